//! `udev/60-groupsms.rules` run by udev itself (`udevadm test`) on fake sticks: a fake sysfs
//! tree holds one USB device per supported model (vendor, product, serial, its interfaces with
//! their numbers and class/subclass/protocol, a ttyUSBn under each serial interface), plus
//! adapters and look-alikes that must be left alone. In a private mount namespace the tree is
//! bind-mounted over /sys, tmpfs hide /dev, /run and /etc/udev (the machine's own rules and
//! device nodes are never touched), the rules under test go to /etc/udev/rules.d beside
//! Debian's own rules in /usr/lib/udev/rules.d, and a copy of /etc/group gains group groupsms
//! (as systemd-sysusers would). For each tty a device node is made with mknod and
//! `udevadm test --action=add` runs the real rules on it: udev creates the links, sets the
//! node's group and mode, and prints the properties. The test then checks that each model's
//! AT port, and only it, has a /dev/gsm link, group groupsms and mode 0660; that every tty and
//! the USB device of a listed stick carry ID_MM_DEVICE_IGNORE=1 and nothing else does; that
//! the local rules the rules file documents (an unlisted stick, a SIM800 behind a USB-serial
//! adapter by serial and by USB port) work as written, and catch no other adapter; and that
//! udev reported no error in our files.
//!
//! sd-device refuses a syspath that is not on a sysfs file system unless
//! `SYSTEMD_DEVICE_VERIFY_SYSFS=0`, the switch systemd's own udev tests use.
//!
//! Needs root, `unshare` (util-linux) and `udevadm` (Debian package udev); without them the
//! test says so and passes, unless GROUPSMS_REQUIRE_ORACLES=1.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

/// One interface of a fake stick: number, class/subclass/protocol as sysfs prints them, role.
/// Roles "storage", "qmi", "ncm", "rndis" and "rndis-data" have no tty; every other one has.
type Iface = (u8, &'static str, &'static str);

struct Stick {
    /// What it stands for, for messages.
    what: &'static str,
    /// Kernel name of the USB device: its place on bus 1 ("1-3", "1-1.4" behind hub 1-1).
    port: &'static str,
    vendor: &'static str,
    product: &'static str,
    serial: Option<&'static str>,
    ifaces: &'static [Iface],
    /// GROUPSMS_MODEL the rules must give the whole stick, None: the rules leave it alone.
    model: Option<&'static str>,
}

const NO_TTY: [&str; 5] = ["storage", "qmi", "ncm", "rndis", "rndis-data"];

const QUECTEL: &[Iface] = &[
    (0, "ff/ff/ff", "diag"),
    (1, "ff/ff/ff", "nmea"),
    (2, "ff/ff/ff", "AT"),
    (3, "ff/ff/ff", "modem"),
    (4, "ff/ff/ff", "qmi"),
];

/// The layouts documented in the rules file, one stick each, and the ones to leave alone.
const STICKS: &[Stick] = &[
    Stick {
        what: "Huawei E1550",
        port: "1-1.1",
        vendor: "12d1",
        product: "1001",
        serial: None,
        ifaces: &[
            (0, "ff/ff/ff", "modem"),
            (1, "ff/ff/ff", "voice"),
            (2, "ff/ff/ff", "AT"),
            (3, "08/06/50", "storage"),
        ],
        model: Some("huawei-e1550"),
    },
    Stick {
        what: "Huawei E220",
        port: "1-1.2",
        vendor: "12d1",
        product: "1003",
        serial: None,
        ifaces: &[
            (0, "ff/ff/ff", "modem"),
            (1, "ff/ff/ff", "AT"),
            (2, "08/06/50", "storage"),
        ],
        model: Some("huawei-e220"),
    },
    Stick {
        what: "Huawei E173 (140c)",
        port: "1-1.3",
        vendor: "12d1",
        product: "140c",
        serial: None,
        ifaces: &[
            (0, "ff/ff/ff", "modem"),
            (1, "ff/ff/ff", "diag"),
            (2, "ff/ff/ff", "voice"),
            (3, "ff/ff/ff", "AT"),
            (4, "08/06/50", "storage"),
            (5, "08/06/50", "storage"),
        ],
        model: Some("huawei-e173"),
    },
    Stick {
        what: "Huawei E1750 (1436)",
        port: "1-2",
        vendor: "12d1",
        product: "1436",
        serial: None,
        ifaces: &[
            (0, "ff/ff/ff", "modem"),
            (1, "ff/ff/ff", "diag"),
            (2, "ff/ff/ff", "diag"),
            (3, "ff/ff/ff", "voice"),
            (4, "ff/ff/ff", "AT"),
            (5, "08/06/50", "storage"),
        ],
        model: Some("huawei-e1750"),
    },
    Stick {
        what: "Huawei E3372 stick firmware (1506, AT^SETPORT 12,1,16)",
        port: "1-3",
        vendor: "12d1",
        product: "1506",
        serial: None,
        ifaces: &[
            (0, "ff/02/12", "AT"),
            (1, "ff/02/01", "modem"),
            (2, "ff/02/16", "ncm"),
        ],
        model: Some("huawei-e3372"),
    },
    Stick {
        // Synthetic order: newer firmware seen as 1001 (E3131, gammu#528) labels its
        // interfaces; the code wins over the 1001 entry's interface number (02 is diag here).
        what: "Huawei 1001 with function codes",
        port: "1-4",
        vendor: "12d1",
        product: "1001",
        serial: None,
        ifaces: &[
            (0, "ff/01/02", "AT"),
            (1, "ff/01/01", "modem"),
            (2, "ff/01/03", "diag"),
        ],
        model: Some("huawei-e1550"),
    },
    Stick {
        // 1506 without function codes: the port is found by code only, so no link (but the
        // stick is still kept from ModemManager).
        what: "Huawei 1506 with ff/ff/ff interfaces",
        port: "1-5",
        vendor: "12d1",
        product: "1506",
        serial: None,
        ifaces: &[(0, "ff/ff/ff", "modem"), (1, "ff/ff/ff", "unknown")],
        model: Some("huawei-e3372"),
    },
    Stick {
        what: "ZTE MF626 (0031)",
        port: "1-6",
        vendor: "19d2",
        product: "0031",
        serial: Some("1234567890ABCDEF"),
        ifaces: &[
            (0, "ff/ff/ff", "diag"),
            (1, "ff/ff/ff", "AT"),
            (2, "ff/ff/ff", "unknown"),
            (3, "ff/ff/ff", "modem"),
        ],
        model: Some("zte-mf626"),
    },
    Stick {
        what: "ZTE MF190 (0117)",
        port: "1-7",
        vendor: "19d2",
        product: "0117",
        serial: Some("1234567890ABCDEF"),
        ifaces: &[
            (0, "ff/ff/ff", "diag"),
            (1, "ff/ff/ff", "AT"),
            (2, "ff/ff/ff", "modem"),
            (3, "08/06/50", "storage"),
        ],
        model: Some("zte-mf190"),
    },
    Stick {
        what: "ZTE MF190 (2003)",
        port: "1-8",
        vendor: "19d2",
        product: "2003",
        serial: None,
        ifaces: &[
            (0, "ff/ff/ff", "diag"),
            (1, "ff/ff/ff", "AT"),
            (2, "ff/ff/ff", "unknown"),
            (3, "ff/ff/ff", "modem"),
            (4, "08/06/50", "storage"),
        ],
        model: Some("zte-mf190"),
    },
    Stick {
        what: "SIMCom SIM7600 (9001)",
        port: "1-9",
        vendor: "1e0e",
        product: "9001",
        serial: Some("0123456789ABCDEF"),
        ifaces: &[
            (0, "ff/ff/ff", "diag"),
            (1, "ff/00/00", "nmea"),
            (2, "ff/00/00", "AT"),
            (3, "ff/00/00", "modem"),
            (4, "ff/00/00", "audio"),
            (5, "ff/ff/ff", "qmi"),
        ],
        model: Some("simcom-sim7600"),
    },
    Stick {
        what: "SIMCom SIM7600 RNDIS (9011)",
        port: "1-10",
        vendor: "1e0e",
        product: "9011",
        serial: Some("0123456789ABCDEF"),
        ifaces: &[
            (0, "e0/01/03", "rndis"),
            (1, "0a/00/00", "rndis-data"),
            (2, "ff/ff/ff", "diag"),
            (3, "ff/00/00", "nmea"),
            (4, "ff/00/00", "AT"),
            (5, "ff/00/00", "modem"),
            (6, "ff/00/00", "audio"),
        ],
        model: Some("simcom-sim7600"),
    },
    Stick {
        what: "Quectel EC25",
        port: "1-11",
        vendor: "2c7c",
        product: "0125",
        serial: None,
        ifaces: QUECTEL,
        model: Some("quectel-ec25"),
    },
    Stick {
        what: "a second Quectel EC25",
        port: "1-12",
        vendor: "2c7c",
        product: "0125",
        serial: None,
        ifaces: QUECTEL,
        model: Some("quectel-ec25"),
    },
    Stick {
        what: "Quectel EC21",
        port: "1-13",
        vendor: "2c7c",
        product: "0121",
        serial: None,
        ifaces: QUECTEL,
        model: Some("quectel-ec21"),
    },
    Stick {
        what: "Quectel EG95",
        port: "1-14",
        vendor: "2c7c",
        product: "0195",
        serial: None,
        ifaces: QUECTEL,
        model: Some("quectel-eg95"),
    },
    Stick {
        what: "Quectel BG96",
        port: "1-15",
        vendor: "2c7c",
        product: "0296",
        serial: None,
        ifaces: QUECTEL,
        model: Some("quectel-bg96"),
    },
    Stick {
        what: "Quectel EC20 on Qualcomm's ID",
        port: "2-1",
        vendor: "05c6",
        product: "9215",
        serial: None,
        ifaces: QUECTEL,
        model: Some("quectel-ec20"),
    },
    Stick {
        // Same ID, 4 interfaces (qcserial.c's Gobi 2K layout): not ours.
        what: "Acer Gobi 2000 (05c6:9215, 4 interfaces)",
        port: "2-2",
        vendor: "05c6",
        product: "9215",
        serial: None,
        ifaces: &[
            (0, "ff/ff/ff", "qmi"),
            (1, "ff/ff/ff", "diag"),
            (2, "ff/ff/ff", "modem"),
            (3, "ff/ff/ff", "nmea"),
        ],
        model: None,
    },
    Stick {
        what: "CP2102 adapter, no local rule",
        port: "2-3",
        vendor: "10c4",
        product: "ea60",
        serial: Some("0001"),
        ifaces: &[(0, "ff/00/00", "uart")],
        model: None,
    },
    Stick {
        what: "SIM800 on an FTDI adapter (local rule by serial)",
        port: "2-4",
        vendor: "0403",
        product: "6001",
        serial: Some("A50285BI"),
        ifaces: &[(0, "ff/ff/ff", "AT")],
        model: Some("simcom-sim800"),
    },
    Stick {
        what: "FTDI adapter with another serial",
        port: "2-5",
        vendor: "0403",
        product: "6001",
        serial: Some("FT0THER1"),
        ifaces: &[(0, "ff/ff/ff", "uart")],
        model: None,
    },
    Stick {
        what: "SIM800 on a CH340 adapter (local rule by USB port 1-1.4)",
        port: "1-1.4",
        vendor: "1a86",
        product: "7523",
        serial: None,
        ifaces: &[(0, "ff/01/02", "AT")],
        model: Some("simcom-sim800"),
    },
    Stick {
        what: "an unlisted stick (local rule by vendor and product)",
        port: "2-6",
        vendor: "1234",
        product: "5678",
        serial: None,
        ifaces: &[
            (0, "ff/ff/ff", "modem"),
            (1, "ff/ff/ff", "diag"),
            (2, "ff/ff/ff", "AT"),
        ],
        model: Some("acme-x1"),
    },
    Stick {
        what: "CH340 adapter in another port",
        port: "1-16",
        vendor: "1a86",
        product: "7523",
        serial: None,
        ifaces: &[(0, "ff/01/02", "uart")],
        model: None,
    },
];

/// The GID given to group groupsms in the namespace's /etc/group.
const GID: u32 = 64_999;

/// Runs in the private mount namespace: `$1` is the work directory.
const NAMESPACE_SCRIPT: &str = r#"set -eu
w=$1
mount --bind "$w/sys" /sys
mount -t tmpfs tmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /etc/udev
mkdir /etc/udev/rules.d
cp "$w"/rules.d/*.rules /etc/udev/rules.d/
mount --bind "$w/group" /etc/group
mkdir "$w/out"
while read -r name minor devpath; do
    if [ "$minor" != - ]; then mknod -m 0600 "/dev/$name" c 188 "$minor"; fi
    SYSTEMD_DEVICE_VERIFY_SYSFS=0 udevadm test --action=add "$devpath" >"$w/out/$name" 2>"$w/out/$name.log"
done <"$w/devices"
for n in /dev/ttyUSB*; do stat -c '%n %g %a' "$n"; done >"$w/nodes"
for l in /dev/gsm/*; do [ -L "$l" ] && echo "${l#/dev/gsm/} $(readlink "$l")"; done >"$w/links" || true
# Without group groupsms (rules installed before systemd-sysusers ran): the link must stay.
umount /etc/group
mount --bind "$w/group-without" /etc/group
read -r name minor devpath <"$w/nogroup"
SYSTEMD_DEVICE_VERIFY_SYSFS=0 udevadm test --action=add "$devpath" >"$w/out/nogroup" 2>"$w/out/nogroup.log"
"#;

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// A USB device directory (a stick, a hub or the root hub) under `dir`.
fn usb_device(dir: &Path, vendor: &str, product: &str, serial: Option<&str>, nifs: usize) {
    fs::create_dir_all(dir).unwrap();
    symlink("/sys/bus/usb", dir.join("subsystem")).unwrap();
    let kernel = dir.file_name().unwrap().to_str().unwrap();
    let (bus, devpath) = kernel
        .strip_prefix("usb")
        .map(|b| (b, "0"))
        .unwrap_or_else(|| kernel.split_once('-').unwrap());
    write(
        &dir.join("uevent"),
        &format!("DEVTYPE=usb_device\nDRIVER=usb\nPRODUCT={vendor}/{product}/100\n"),
    );
    for (attr, value) in [
        ("idVendor", vendor.to_string()),
        ("idProduct", product.to_string()),
        ("manufacturer", format!("Vendor {vendor}")),
        ("product", format!("Product {product}")),
        ("bNumInterfaces", format!("{nifs:2}")),
        ("busnum", bus.to_string()),
        ("devpath", devpath.to_string()),
        ("bcdDevice", "0100".to_string()),
    ] {
        write(&dir.join(attr), &format!("{value}\n"));
    }
    if let Some(serial) = serial {
        write(&dir.join("serial"), &format!("{serial}\n"));
    }
}

/// What one tty is, for the checks.
struct Tty {
    stick: &'static Stick,
    role: &'static str,
    iface: u8,
}

/// Builds the fake sysfs under `w/sys`; returns the ttys by name, and writes `w/devices`
/// (name, minor or "-", devpath: each stick's USB device, then its ttys) for the namespace
/// script.
fn build_sysfs(w: &Path) -> BTreeMap<String, Tty> {
    let sys = w.join("sys");
    for d in ["bus/usb", "bus/usb-serial", "bus/pci", "class/tty"] {
        fs::create_dir_all(sys.join(d)).unwrap();
    }
    let pci = "/devices/pci0000:00/0000:00:14.0";
    fs::create_dir_all(sys.join(&pci[1..])).unwrap();
    symlink("/sys/bus/pci", sys.join(&pci[1..]).join("subsystem")).unwrap();
    write(
        &sys.join(&pci[1..]).join("uevent"),
        "DRIVER=xhci_hcd\nPCI_SLOT_NAME=0000:00:14.0\n",
    );
    let mut list = String::new();
    let mut ttys = BTreeMap::new();
    let mut minor = 0;
    for bus in ["usb1", "usb2"] {
        usb_device(&sys.join(&pci[1..]).join(bus), "1d6b", "0002", None, 1);
    }
    // Hub 1-1 carries the sticks on 1-1.n.
    usb_device(
        &sys.join(&pci[1..]).join("usb1/1-1"),
        "05e3",
        "0608",
        None,
        1,
    );
    for stick in STICKS {
        let bus = format!("usb{}", &stick.port[..1]);
        let parent = match stick.port.split_once('.') {
            Some((hub, _)) => format!("{pci}/{bus}/{hub}"),
            None => format!("{pci}/{bus}"),
        };
        let devpath = format!("{parent}/{}", stick.port);
        let dev = sys.join(&devpath[1..]);
        usb_device(
            &dev,
            stick.vendor,
            stick.product,
            stick.serial,
            stick.ifaces.len(),
        );
        writeln!(list, "{} - {devpath}", stick.port).unwrap();
        for &(num, class, role) in stick.ifaces {
            let ifname = format!("{}:1.{num}", stick.port);
            let ifdir = dev.join(&ifname);
            fs::create_dir_all(&ifdir).unwrap();
            symlink("/sys/bus/usb", ifdir.join("subsystem")).unwrap();
            let codes: Vec<u32> = class
                .split('/')
                .map(|c| u32::from_str_radix(c, 16).unwrap())
                .collect();
            write(
                &ifdir.join("uevent"),
                &format!(
                    "DEVTYPE=usb_interface\nINTERFACE={}/{}/{}\n",
                    codes[0], codes[1], codes[2]
                ),
            );
            let mut parts = class.split('/');
            for (attr, value) in [
                ("bInterfaceNumber", format!("{num:02x}")),
                ("bInterfaceClass", parts.next().unwrap().to_string()),
                ("bInterfaceSubClass", parts.next().unwrap().to_string()),
                ("bInterfaceProtocol", parts.next().unwrap().to_string()),
                ("bAlternateSetting", " 0".to_string()),
            ] {
                write(&ifdir.join(attr), &format!("{value}\n"));
            }
            if NO_TTY.contains(&role) {
                continue;
            }
            let name = format!("ttyUSB{minor}");
            let port = ifdir.join(&name);
            fs::create_dir_all(&port).unwrap();
            symlink("/sys/bus/usb-serial", port.join("subsystem")).unwrap();
            write(&port.join("uevent"), "DRIVER=option1\n");
            let tty = port.join("tty").join(&name);
            fs::create_dir_all(&tty).unwrap();
            symlink("/sys/class/tty", tty.join("subsystem")).unwrap();
            write(
                &tty.join("uevent"),
                &format!("MAJOR=188\nMINOR={minor}\nDEVNAME={name}\n"),
            );
            write(&tty.join("dev"), &format!("188:{minor}\n"));
            let tty_path = format!("{devpath}/{ifname}/{name}/tty/{name}");
            symlink(format!("/sys{tty_path}"), sys.join("class/tty").join(&name)).unwrap();
            writeln!(list, "{name} {minor} {tty_path}").unwrap();
            ttys.insert(
                name,
                Tty {
                    stick,
                    role,
                    iface: num,
                },
            );
            minor += 1;
        }
    }
    write(&w.join("devices"), &list);
    ttys
}

/// The KEY=VALUE properties `udevadm test` printed on stdout.
fn properties(w: &Path, name: &str) -> BTreeMap<String, String> {
    fs::read_to_string(w.join("out").join(name))
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Root, unshare and udevadm present, and a mount namespace can be made here.
fn oracles_present() -> bool {
    if !nix::unistd::geteuid().is_root() {
        common::absent("root (udevadm test in a private mount namespace needs it)");
        return false;
    }
    if !Command::new("udevadm")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        common::absent("udevadm (Debian package udev)");
        return false;
    }
    if !Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        common::absent("unshare --mount (util-linux, and a kernel or container that allows it)");
        return false;
    }
    true
}

#[test]
fn udev_gives_each_at_port_a_link_and_keeps_modemmanager_off() {
    if !oracles_present() {
        return;
    }
    let root = env!("CARGO_MANIFEST_DIR");
    let rules = fs::read_to_string(format!("{root}/udev/60-groupsms.rules")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    let ttys = build_sysfs(w);

    let mut problems = Vec::new();
    // The rules under test, and the local rules exactly as the rules file documents them.
    write(&w.join("rules.d/60-groupsms.rules"), &rules);
    let local: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.strip_prefix("#   "))
        .filter(|l| l.contains("ENV{GROUPSMS_MODEL}=\""))
        .collect();
    if local.len() != 3 {
        problems.push(format!(
            "the rules file documents {} local rules, not the three examples (a stick, a SIM800 by serial, by port)",
            local.len()
        ));
    }
    write(
        &w.join("rules.d/59-groupsms-local.rules"),
        &(local.join("\n") + "\n"),
    );
    let group = fs::read_to_string("/etc/group").unwrap();
    let without: String = group
        .lines()
        .filter(|l| !l.starts_with("groupsms:"))
        .map(|l| format!("{l}\n"))
        .collect();
    write(&w.join("group-without"), &without);
    write(&w.join("group"), &format!("{without}groupsms:x:{GID}:\n"));
    let (first_at, _) = ttys.iter().find(|(_, t)| t.role == "AT").unwrap();
    let nogroup_line = fs::read_to_string(w.join("devices"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with(&format!("{first_at} ")))
        .unwrap()
        .to_string();
    write(&w.join("nogroup"), &format!("{nogroup_line}\n"));

    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(NAMESPACE_SCRIPT)
        .arg("sh")
        .arg(w)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "namespace script: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // udev said nothing bad about our files (a typo'd key is only a log line to udev).
    for entry in fs::read_dir(w.join("out")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "log") || path.ends_with("nogroup.log") {
            continue;
        }
        for line in fs::read_to_string(&path).unwrap().lines() {
            let ours = line.contains("60-groupsms.rules") || line.contains("59-groupsms-local");
            let bad = ["nvalid", "gnor", "ailed", "nknown", "rror"]
                .iter()
                .any(|w| line.contains(w));
            assert!(!(ours && bad), "{}: {line}", path.display());
        }
    }

    let links: BTreeMap<String, String> = fs::read_to_string(w.join("links"))
        .unwrap()
        .lines()
        .map(|l| {
            let (name, target) = l.split_once(' ').unwrap();
            (name.to_string(), target.to_string())
        })
        .collect();
    let nodes: BTreeMap<String, (u32, String)> = fs::read_to_string(w.join("nodes"))
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (
                f[0].trim_start_matches("/dev/").to_string(),
                (f[1].parse().unwrap(), f[2].to_string()),
            )
        })
        .collect();

    let mut expected_links = BTreeSet::new();
    for (name, tty) in &ttys {
        let what = format!(
            "{} if{:02} ({}) {name}",
            tty.stick.what, tty.iface, tty.role
        );
        let props = properties(w, name);
        let prop = |k: &str| props.get(k).map(String::as_str);
        if prop("ID_MM_DEVICE_IGNORE") != tty.stick.model.map(|_| "1") {
            problems.push(format!(
                "{what}: ID_MM_DEVICE_IGNORE {:?}",
                prop("ID_MM_DEVICE_IGNORE")
            ));
        }
        if prop("GROUPSMS_MODEL") != tty.stick.model {
            problems.push(format!(
                "{what}: GROUPSMS_MODEL {:?}",
                prop("GROUPSMS_MODEL")
            ));
        }
        let ours: Vec<&str> = prop("DEVLINKS")
            .unwrap_or("")
            .split(' ')
            .filter(|l| l.starts_with("/dev/gsm/"))
            .collect();
        let (gid, mode) = &nodes[name];
        if tty.role == "AT" {
            let want = format!(
                "/dev/gsm/{}-{}-at",
                tty.stick.model.unwrap(),
                prop("ID_PATH_TAG").expect("ID_PATH_TAG")
            );
            if ours != [want.as_str()] {
                problems.push(format!("{what}: links {ours:?}, want {want}"));
            }
            let file = want.trim_start_matches("/dev/gsm/");
            if links.get(file).map(String::as_str) != Some(&format!("../{name}")) {
                problems.push(format!("{what}: /dev/gsm/{file} -> {:?}", links.get(file)));
            }
            expected_links.insert(file.to_string());
            if (*gid, mode.as_str()) != (GID, "660") {
                problems.push(format!("{what}: node gid {gid} mode {mode}"));
            }
        } else {
            if !ours.is_empty() {
                problems.push(format!("{what}: not an AT port, but links {ours:?}"));
            }
            if *gid == GID {
                problems.push(format!("{what}: not an AT port, but group groupsms"));
            }
        }
    }
    let made: BTreeSet<String> = links.keys().cloned().collect();
    if made != expected_links {
        problems.push(format!("/dev/gsm holds {made:?}, want {expected_links:?}"));
    }
    // The USB device itself carries the tag ModemManager reads first.
    for stick in STICKS {
        let port = stick.port;
        let got = properties(w, port).get("ID_MM_DEVICE_IGNORE").cloned();
        if got.as_deref() != stick.model.map(|_| "1") {
            problems.push(format!(
                "{} (USB device {port}): ID_MM_DEVICE_IGNORE {got:?}",
                stick.what
            ));
        }
    }
    // Without group groupsms udev drops the GROUP line, not the link.
    let nogroup = properties(w, "nogroup");
    if !nogroup
        .get("DEVLINKS")
        .is_some_and(|l| l.contains("/dev/gsm/"))
    {
        problems.push(format!(
            "{first_at} without group groupsms: no /dev/gsm link ({:?})",
            nogroup.get("DEVLINKS")
        ));
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}
