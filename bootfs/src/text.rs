//! Text for people: sizes, and names on a VGA text screen (code page 437).

use alloc::string::String;

/// Unicode for CP437 bytes 0x80..=0xFF.
const CP437_HIGH: [char; 128] = [
    'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç', 'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å', //
    'É', 'æ', 'Æ', 'ô', 'ö', 'ò', 'û', 'ù', 'ÿ', 'Ö', 'Ü', '¢', '£', '¥', '₧', 'ƒ', //
    'á', 'í', 'ó', 'ú', 'ñ', 'Ñ', 'ª', 'º', '¿', '⌐', '¬', '½', '¼', '¡', '«', '»', //
    '░', '▒', '▓', '│', '┤', '╡', '╢', '╖', '╕', '╣', '║', '╗', '╝', '╜', '╛', '┐', //
    '└', '┴', '┬', '├', '─', '┼', '╞', '╟', '╚', '╔', '╩', '╦', '╠', '═', '╬', '╧', //
    '╨', '╤', '╥', '╙', '╘', '╒', '╓', '╫', '╪', '┘', '┌', '█', '▄', '▌', '▐', '▀', //
    'α', 'ß', 'Γ', 'π', 'Σ', 'σ', 'µ', 'τ', 'Φ', 'Θ', 'Ω', 'δ', '∞', 'φ', 'ε', '∩', //
    '≡', '±', '≥', '≤', '⌠', '⌡', '÷', '≈', '°', '∙', '·', '√', 'ⁿ', '²', '■', '\u{a0}',
];

/// The CP437 byte that shows `c` on a VGA text screen, or `?`.
pub fn to_cp437(c: char) -> u8 {
    match c {
        ' '..='~' => c as u8,
        _ => CP437_HIGH.iter().position(|&x| x == c).map_or(b'?', |i| 0x80 + i as u8),
    }
}

/// The character a CP437 byte shows (short names on FAT are in the OEM
/// code page, which dropboot takes to be 437).
pub fn from_cp437(b: u8) -> char {
    if b < 0x80 {
        b as char
    } else {
        CP437_HIGH[(b - 0x80) as usize]
    }
}

/// `items` as a sentence lists them: "", "2", "2 and 5", "1, 2 and 5".
pub fn list_in_words<T: core::fmt::Display>(items: &[T]) -> String {
    match items {
        [] => String::new(),
        [one] => alloc::format!("{one}"),
        [rest @ .., last] => {
            let rest: alloc::vec::Vec<String> = rest.iter().map(|r| alloc::format!("{r}")).collect();
            alloc::format!("{} and {last}", rest.join(", "))
        }
    }
}

/// "812 B", "4.0 KiB", "1.5 GiB": one decimal place past bytes.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return alloc::format!("{bytes} B");
    }
    let mut unit = 0;
    let mut scaled = bytes;
    while scaled >= 1024 * 1024 && unit < UNITS.len() - 1 {
        scaled /= 1024;
        unit += 1;
    }
    let tenths = scaled * 10 / 1024;
    alloc::format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
}

/// Names equal without regard to case (any script), as FAT and exFAT
/// compare them.
pub fn eq_ignore_case(a: &str, b: &str) -> bool {
    // Upper case, as exFAT's up-case table and FAT's long names compare
    // (σ and ς are one name there).
    a.chars().flat_map(char::to_uppercase).eq(b.chars().flat_map(char::to_uppercase))
}

/// Case-insensitive ordering of paths, as the menu sorts them: by their
/// lower-case characters, then (paths that differ only in case) as they
/// are. Folded as it goes, without a copy, and only as far as the first
/// difference: sorting 5,000 paths makes some 60,000 comparisons, and
/// folding both whole into new buffers at each was a tenth of a second of
/// stage2's time under QEMU.
pub fn cmp_ignore_case(a: &str, b: &str) -> core::cmp::Ordering {
    let folded_a = a.chars().flat_map(char::to_lowercase);
    folded_a.cmp(b.chars().flat_map(char::to_lowercase)).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_code_page_437_or_a_question_mark() {
        assert_eq!(to_cp437('A'), b'A');
        assert_eq!(to_cp437('é'), 0x82);
        assert_eq!(to_cp437('Ü'), 0x9A);
        assert_eq!(to_cp437('ß'), 0xE1);
        assert_eq!(to_cp437('日'), b'?');
        for b in 0x80..=0xFFu8 {
            assert_eq!(to_cp437(from_cp437(b)), b);
        }
    }

    #[test]
    fn paths_sort_by_their_lower_case_then_as_they_are() {
        use core::cmp::Ordering::*;
        let mut paths = ["/b.iso", "/A/z.iso", "/a.iso", "/Ärger.iso", "/a/Y.iso", "/B.iso", "/a"];
        paths.sort_by(|a, b| cmp_ignore_case(a, b));
        // '.' comes before '/', as in every byte order.
        assert_eq!(paths, ["/a", "/a.iso", "/a/Y.iso", "/A/z.iso", "/B.iso", "/b.iso", "/Ärger.iso"]);
        assert_eq!(cmp_ignore_case("/İ", "/i̇"), Equal.then("/İ".cmp("/i̇")));
        assert_eq!(cmp_ignore_case("/x", "/x"), Equal);
    }

    #[test]
    fn sizes_read_like_a_person_wrote_them() {
        assert_eq!(human_size(812), "812 B");
        assert_eq!(human_size(4096), "4.0 KiB");
        assert_eq!(human_size(1536 * 1024 * 1024), "1.5 GiB");
    }
}
