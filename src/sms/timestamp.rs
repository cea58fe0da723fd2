//! TP-Service-Centre-Time-Stamp and other absolute times (TS 23.040 9.2.3.11): seven
//! semi-octet pairs, year to second, then the time zone in quarter hours with a sign bit.

use std::fmt;

/// A time as the network stamps it, kept as given (no calendar validation beyond digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// Full year: two-digit years are read as 2000..=2099 (SMS predates 2000 by a few years
    /// only, and no network sends 19xx stamps today).
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// Offset from UTC in quarter hours (-79..=79).
    pub tz_quarters: i8,
}

impl Timestamp {
    /// Decodes the seven octets. A date or time digit above 9 is an error; a zone octet with
    /// a digit above 9 (seen from real SMSCs in status reports) is read as UTC.
    pub fn decode(octets: &[u8; 7]) -> Option<Self> {
        let bcd = |b: u8| -> Option<u8> {
            let (lo, hi) = (b & 0x0F, b >> 4);
            (lo <= 9 && hi <= 9).then_some(lo * 10 + hi)
        };
        let tz = octets[6];
        let tens = tz & 0x07;
        let units = tz >> 4;
        let quarters = if units > 9 {
            0
        } else {
            (tens * 10 + units) as i8
        };
        Some(Timestamp {
            year: 2000 + bcd(octets[0])? as u16,
            month: bcd(octets[1])?,
            day: bcd(octets[2])?,
            hour: bcd(octets[3])?,
            minute: bcd(octets[4])?,
            second: bcd(octets[5])?,
            tz_quarters: if tz & 0x08 != 0 { -quarters } else { quarters },
        })
    }

    /// Encodes to the seven octets (the year modulo 100).
    pub fn encode(&self) -> [u8; 7] {
        let swap = |v: u8| ((v % 10) << 4) | ((v / 10) % 10);
        let q = self.tz_quarters.unsigned_abs().min(79);
        let mut tz = ((q % 10) << 4) | (q / 10);
        if self.tz_quarters < 0 {
            tz |= 0x08;
        }
        [
            swap((self.year % 100) as u8),
            swap(self.month),
            swap(self.day),
            swap(self.hour),
            swap(self.minute),
            swap(self.second),
            tz,
        ]
    }
}

/// ISO 8601 with the offset, e.g. `2013-03-08T15:02:16+02:00`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let minutes = self.tz_quarters as i32 * 15;
        let sign = if minutes < 0 { '-' } else { '+' };
        let m = minutes.abs();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{:02}:{:02}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            sign,
            m / 60,
            m % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_positive_and_negative_zones() {
        let t = Timestamp::decode(&[0x31, 0x30, 0x80, 0x51, 0x20, 0x61, 0x80]).unwrap();
        assert_eq!(t.to_string(), "2013-03-08T15:02:16+02:00");
        assert_eq!(t.encode(), [0x31, 0x30, 0x80, 0x51, 0x20, 0x61, 0x80]);
        let mut neg = t;
        neg.tz_quarters = -22;
        assert_eq!(neg.to_string(), "2013-03-08T15:02:16-05:30");
        assert_eq!(Timestamp::decode(&neg.encode()).unwrap(), neg);
    }

    #[test]
    fn bad_digits_are_refused() {
        assert!(Timestamp::decode(&[0xA1, 0, 0, 0, 0, 0, 0]).is_none());
        assert_eq!(
            Timestamp::decode(&[0x01, 0x90, 0x12, 0x41, 0x30, 0x64, 0xA0])
                .unwrap()
                .to_string(),
            "2010-09-21T14:03:46+00:00"
        );
    }
}
