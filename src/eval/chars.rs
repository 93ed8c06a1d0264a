//! Unicode character classes the scorers and classifiers share (by general category, the
//! way Python's `unicodedata` and `str` methods see them).

use unicode_general_category::{get_general_category, GeneralCategory as G};

/// Categories L*: what Python's `str.isalpha()` accepts.
pub(crate) fn is_letter(c: char) -> bool {
    matches!(
        get_general_category(c),
        G::UppercaseLetter
            | G::LowercaseLetter
            | G::TitlecaseLetter
            | G::ModifierLetter
            | G::OtherLetter
    )
}

/// Categories N*.
pub(crate) fn is_number(c: char) -> bool {
    matches!(
        get_general_category(c),
        G::DecimalNumber | G::LetterNumber | G::OtherNumber
    )
}

/// Categories M* (Devanagari and Thai vowel signs, combining accents).
pub(crate) fn is_mark(c: char) -> bool {
    matches!(
        get_general_category(c),
        G::NonspacingMark | G::SpacingMark | G::EnclosingMark
    )
}

/// Categories P* (what MLQA's `unicodedata.category(c).startswith('P')` keeps).
pub(crate) fn is_category_punctuation(c: char) -> bool {
    matches!(
        get_general_category(c),
        G::ConnectorPunctuation
            | G::DashPunctuation
            | G::OpenPunctuation
            | G::ClosePunctuation
            | G::InitialPunctuation
            | G::FinalPunctuation
            | G::OtherPunctuation
    )
}

/// Python's `str.isspace()`: Unicode White_Space plus the four information separators
/// U+001C..U+001F, which Python treats as line breaks.
pub(crate) fn is_python_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert!(is_letter('ß') && is_letter('中') && !is_letter('1'));
        assert!(is_number('٣') && is_number('Ⅳ') && !is_number('a'));
        assert!(is_mark('\u{093F}') && is_mark('\u{0301}') && !is_mark('a'));
        assert!(
            is_category_punctuation('«')
                && is_category_punctuation('。')
                && !is_category_punctuation('$')
        );
        assert!(
            is_python_whitespace('\u{1f}')
                && is_python_whitespace('\u{3000}')
                && !is_python_whitespace('\u{200b}')
        );
    }
}
