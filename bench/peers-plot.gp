# Throughput against the number of modems, from the CSV written by
#   PEERS_CSV=bench/peers.csv PEERS_MODEMS=1,2,4,8,16 cargo bench --bench peers
# Draw with: gnuplot bench/peers-plot.gp   (writes bench/peers.png)
set datafile separator ","
set terminal pngcairo size 800,520 font ",10"
set output "bench/peers.png"
set title "Throughput vs modems (emulated, L = 300 ms, 10 recipients per modem)"
set xlabel "modems (N)"
set ylabel "messages per second"
set key top left Left reverse
set grid
set logscale x 2
set xrange [0.8:20]
set yrange [0:*]
# one data set per peer and tuning, picked out with awk (empty msg/s = did not finish)
sel(p, t) = sprintf("< awk -F, '$1==\"%s\" && $2==\"%s\" && $6!=\"\"' bench/peers.csv", p, t)
plot sel("groupsms", "defaults") using 3:7 with lines dashtype 2 lc rgb "gray" title "ideal N/L", \
     sel("groupsms", "defaults") using 3:6 with linespoints pt 7 lw 2 title "groupsms", \
     sel("smstools", "tuned+UCS2") using 3:6 with linespoints pt 5 title "SMSTools3 tuned (UCS2 files)", \
     sel("smstools", "tuned") using 3:6 with linespoints pt 4 title "SMSTools3 tuned (UTF files, emoji lost)", \
     sel("smstools", "defaults") using 3:6 with linespoints pt 6 title "SMSTools3 defaults (N >= 4: not done in 25 s)", \
     sel("gammu-smsd", "tuned") using 3:6 with linespoints pt 9 title "gammu-smsd tuned (1 process per modem)"
