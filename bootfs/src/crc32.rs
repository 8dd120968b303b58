//! CRC-32 in its two on-disk variants: IEEE 802.3 (GPT's header and entry
//! array) and Castagnoli, CRC-32C (VHDX's headers and region table). Both
//! are reflected, start from all ones and end inverted; only the polynomial
//! differs. Fed in pieces, so a large table is checked as it is read.

/// The IEEE polynomial, reflected.
const IEEE: u32 = 0xEDB8_8320;
/// The Castagnoli polynomial, reflected.
const CASTAGNOLI: u32 = 0x82F6_3B78;

const fn table(poly: u32) -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ poly } else { c >> 1 };
            bit += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static IEEE_TABLE: [u32; 256] = table(IEEE);
static CASTAGNOLI_TABLE: [u32; 256] = table(CASTAGNOLI);

/// A CRC-32 computation fed in pieces of any size.
#[derive(Clone)]
pub struct Crc32 {
    table: &'static [u32; 256],
    state: u32,
}

impl Crc32 {
    /// CRC-32 (IEEE 802.3), as GPT uses it.
    pub fn ieee() -> Crc32 {
        Crc32 { table: &IEEE_TABLE, state: !0 }
    }

    /// CRC-32C (Castagnoli), as VHDX uses it.
    pub fn castagnoli() -> Crc32 {
        Crc32 { table: &CASTAGNOLI_TABLE, state: !0 }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.state = self.table[((self.state ^ b as u32) & 0xFF) as usize] ^ (self.state >> 8);
        }
    }

    /// The CRC of everything fed so far.
    pub fn value(&self) -> u32 {
        !self.state
    }
}

/// The CRC-32 (IEEE) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = Crc32::ieee();
    c.update(bytes);
    c.value()
}

/// The CRC-32C (Castagnoli) of `bytes`.
pub fn crc32c(bytes: &[u8]) -> u32 {
    let mut c = Crc32::castagnoli();
    c.update(bytes);
    c.value()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_values_of_both_variants() {
        // The "check" of each in the CRC catalogue: the CRC of "123456789".
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn pieces_give_the_crc_of_the_whole() {
        let data: alloc::vec::Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut c = Crc32::castagnoli();
        for piece in data.chunks(37) {
            c.update(piece);
        }
        assert_eq!(c.value(), crc32c(&data));
    }
}
