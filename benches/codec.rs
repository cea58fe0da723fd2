//! Criterion benchmark of the SMS codec: encode and decode, single and multi-part.
//! Run with `cargo bench --bench codec`; criterion prints time per operation.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use groupsms::sms::{self, Address, SubmitOptions};

fn codec(c: &mut Criterion) {
    let opts = SubmitOptions::to(Address::parse("+8613800138000").unwrap());
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(1));
    group.bench_function("single part gsm7 (40 chars)", |b| {
        b.iter(|| {
            sms::encode_submit(black_box("Meeting moved to 9:00 tomorrow, room 3B."), &opts)
                .unwrap()
        })
    });
    group.bench_function("single part ucs2 (20 chars)", |b| {
        b.iter(|| {
            sms::encode_submit(
                black_box("【运维组】明天上午九点在三楼会议室开会，请准时"),
                &opts,
            )
            .unwrap()
        })
    });
    let long = "【运维组】".to_string() + &"长消息测试😀".repeat(40);
    group.bench_function("4-part ucs2 with emoji", |b| {
        b.iter(|| sms::encode_submit(black_box(&long), &opts).unwrap())
    });
    group.finish();

    let single = sms::encode_submit("Meeting moved to 9:00 tomorrow, room 3B.", &opts).unwrap();
    let chinese =
        sms::encode_submit("【运维组】明天上午九点在三楼会议室开会，请准时", &opts).unwrap();
    let deliver = sms::hex::decode("07915892000000F0040B915892214365F700007040213252242331493A283D0795C3F33C88FE06C9CB6132885EC6D341EDF27C1E3E97E7207B3A0C0A5241E377BB1D7693E72E").unwrap();
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(1));
    group.bench_function("submit gsm7", |b| {
        b.iter(|| sms::decode(black_box(&single[0].bytes), true).unwrap())
    });
    group.bench_function("submit ucs2", |b| {
        b.iter(|| sms::decode(black_box(&chinese[0].bytes), true).unwrap())
    });
    group.bench_function("deliver gsm7 (49 chars)", |b| {
        b.iter(|| sms::decode(black_box(&deliver), true).unwrap())
    });
    group.bench_function("analyze (count parts)", |b| {
        b.iter(|| sms::analyze(black_box(&long)))
    });
    group.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
