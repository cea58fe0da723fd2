//! TP-Validity-Period (TS 23.040 9.2.3.12).

use super::timestamp::Timestamp;

/// How long the SMSC keeps trying to deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// Relative format, the raw TP-VP octet (9.2.3.12.1).
    Relative(u8),
    /// Absolute format (9.2.3.12.2).
    Absolute(Timestamp),
    /// Enhanced format (9.2.3.12.3), kept raw.
    Enhanced([u8; 7]),
}

impl Validity {
    /// The smallest relative period of at least `minutes` (capped at 63 weeks).
    pub fn from_minutes(minutes: u32) -> Self {
        let code = if minutes <= 12 * 60 {
            minutes.div_ceil(5).saturating_sub(1)
        } else if minutes <= 24 * 60 {
            143 + (minutes - 12 * 60).div_ceil(30)
        } else if minutes <= 30 * 24 * 60 {
            166 + minutes.div_ceil(24 * 60)
        } else {
            (192 + minutes.div_ceil(7 * 24 * 60)).min(255)
        };
        Validity::Relative(code as u8)
    }

    /// The relative TP-VP octet (`0xFF`, the longest, for other formats).
    pub fn code(self) -> u8 {
        match self {
            Validity::Relative(code) => code,
            _ => 0xFF,
        }
    }

    /// Minutes of a relative period.
    pub fn minutes(self) -> Option<u32> {
        let Validity::Relative(code) = self else {
            return None;
        };
        let code = code as u32;
        Some(match code {
            0..=143 => (code + 1) * 5,
            144..=167 => 12 * 60 + (code - 143) * 30,
            168..=196 => (code - 166) * 24 * 60,
            _ => (code - 192) * 7 * 24 * 60,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_table() {
        for (code, minutes) in [
            (0u8, 5u32),
            (143, 720),
            (144, 750),
            (167, 1440),
            (168, 2880),
            (196, 43200),
            (197, 50400),
            (255, 635040),
        ] {
            assert_eq!(Validity::Relative(code).minutes(), Some(minutes));
            assert_eq!(Validity::from_minutes(minutes), Validity::Relative(code));
        }
        assert_eq!(Validity::from_minutes(1), Validity::Relative(0));
        assert_eq!(Validity::from_minutes(721), Validity::Relative(144));
        assert_eq!(Validity::from_minutes(3 * 24 * 60), Validity::Relative(169));
    }
}
