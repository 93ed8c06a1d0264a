//! Sentence splitting of context texts, per language, for the sentence oracle.
//!
//! Ranges are in characters (Unicode code points), contiguous, and cover the whole text:
//! whitespace *before* a sentence belongs to it (BPE tokenizers glue a space to the next
//! word, so a " word" token starts inside its own sentence); the text's trailing whitespace
//! belongs to the last sentence. Every range holds some non-space text; a text without any
//! has no sentence.
//!
//! Rules:
//! - Latin, Cyrillic, Greek, Arabic, Devanagari: `.`, `!`, `?` end a sentence when followed
//!   (after any closing quotes/brackets and repeated marks) by whitespace or the end, and, in
//!   cased scripts, when the next word does not start with a lowercase letter. Greek adds
//!   its question mark `;` (U+003B and U+037E). A `.` does not end a sentence after an
//!   abbreviation of the language's table, a single letter (initials: `J. R. R. Tolkien`,
//!   `z. B.`, `т. е.`, `ط. و.`; but Arabic `م.` and `هـ.` end dates, often a sentence's
//!   end), a dotted abbreviation (`U.S.`, `e.g.`, `Ph.D.`), and, in German and Turkish,
//!   after a 1-3 digit number or a Roman numeral (ordinals: `7. Februar`, `XIV.`).
//! - Hindi `।` `॥`, Arabic `؟` `۔` and Chinese `。！？!?` end a sentence without a space.
//!   Chinese `．` does not (it appears in numbers and list markers); an ASCII `.` in Chinese
//!   text follows the Latin rule.
//! - Thai has no sentence punctuation: a whitespace run between two Thai characters ends a
//!   sentence once the sentence holds at least [`THAI_MIN_CHARS`] non-space characters
//!   (spaces around numbers and foreign words, and short chunks, stay inside); a short
//!   last chunk joins the previous sentence.
//! - In every language a line break ends a sentence.

use crate::data::{Lang, Script};
use std::ops::Range;

/// Shortest Thai sentence, in code points (Thai vowels and tone marks are code points too,
/// so this is about 14 visible letters).
pub const THAI_MIN_CHARS: usize = 20;

/// Splits `text` into sentences; see the module documentation for the rules.
pub fn split_sentences(text: &str, lang: Lang) -> Vec<Range<usize>> {
    let chars: Vec<char> = text.chars().collect();
    let mut cuts = line_break_cuts(&chars);
    cuts.extend(match lang.script() {
        Script::Thai => thai_cuts(&chars),
        _ => punctuation_cuts(&chars, lang),
    });
    cuts.sort_unstable();
    cuts.dedup();
    ranges_from_cuts(&chars, &cuts)
}

/// Whitespace, plus the invisible format characters XQuAD texts hold (zero-width space,
/// direction marks, byte-order mark).
pub fn is_space(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{200b}' | '\u{200e}' | '\u{200f}' | '\u{2060}' | '\u{feff}'
        )
}

fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}' | '\u{85}')
}

/// Closing quotes and brackets; `“` closes German quotes („…“) but opens elsewhere.
fn is_closer(c: char, lang: Lang) -> bool {
    matches!(
        c,
        '"' | '\''
            | '”'
            | '’'
            | '»'
            | '›'
            | ')'
            | ']'
            | '}'
            | '」'
            | '』'
            | '）'
            | '》'
            | '〉'
            | '】'
    ) || (c == '“' && lang == Lang::De)
}

fn is_opener(c: char) -> bool {
    matches!(
        c,
        '"' | '\''
            | '“'
            | '‘'
            | '„'
            | '«'
            | '‹'
            | '('
            | '['
            | '{'
            | '「'
            | '『'
            | '（'
            | '《'
            | '〈'
            | '【'
            | '¿'
            | '¡'
    )
}

/// Cut before each line break that follows text.
fn line_break_cuts(chars: &[char]) -> Vec<usize> {
    (1..chars.len())
        .filter(|&i| is_line_break(chars[i]) && !is_line_break(chars[i - 1]))
        .collect()
}

/// Terminators that end a sentence whatever follows.
fn is_strong(c: char, lang: Lang) -> bool {
    match lang {
        Lang::Zh => matches!(c, '。' | '！' | '？' | '!' | '?'),
        Lang::Hi => matches!(c, '।' | '॥'),
        Lang::Ar => matches!(c, '؟' | '۔'),
        _ => false,
    }
}

/// Terminators that need whitespace (or the end) after them.
fn is_weak(c: char, lang: Lang) -> bool {
    match lang {
        Lang::El => matches!(c, '.' | '!' | ';' | '\u{37e}' | '?'),
        Lang::Zh => c == '.',
        _ => matches!(c, '.' | '!' | '?'),
    }
}

fn punctuation_cuts(chars: &[char], lang: Lang) -> Vec<usize> {
    let is_term = |c: char| is_strong(c, lang) || is_weak(c, lang);
    let cased = matches!(
        lang.script(),
        Script::Latin | Script::Cyrillic | Script::Greek
    );
    let mut cuts = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !is_term(c) {
            i += 1;
            continue;
        }
        // The sentence ends after the run of marks and closing quotes/brackets.
        let mut end = i + 1;
        while end < chars.len() && (is_term(chars[end]) || is_closer(chars[end], lang)) {
            end += 1;
        }
        let strong = chars[i..end].iter().any(|&m| is_strong(m, lang));
        let ends = strong || {
            let spaced = end == chars.len() || is_space(chars[end]);
            let lone_period = c == '.' && !chars[i + 1..end].iter().any(|&m| is_term(m));
            spaced
                && !(cased && next_word_is_lowercase(chars, end))
                && !(lone_period && is_abbreviation(word_before(chars, i), lang))
        };
        if ends {
            cuts.push(end);
        }
        i = end;
    }
    cuts
}

/// Whether the first letter after position `from` (spaces and opening marks skipped) is
/// lowercase.
fn next_word_is_lowercase(chars: &[char], from: usize) -> bool {
    chars[from..]
        .iter()
        .find(|&&c| !is_space(c) && !is_opener(c))
        .is_some_and(|c| c.is_lowercase())
}

/// The word (letters, digits, marks and inner periods) that ends at `end` (exclusive).
fn word_before(chars: &[char], end: usize) -> &[char] {
    let start = chars[..end]
        .iter()
        .rposition(|&c| !(c.is_alphanumeric() || is_mark(c) || c == '.'))
        .map_or(0, |p| p + 1);
    &chars[start..end]
}

fn is_abbreviation(word: &[char], lang: Lang) -> bool {
    if word.is_empty() {
        return false;
    }
    // Arabic dates end in م. or هـ. (AD, AH), often at a sentence's end.
    let initial =
        word.len() == 1 && word[0].is_alphabetic() && !(lang == Lang::Ar && "مه".contains(word[0]));
    let dotted = word.contains(&'.')
        && word.split(|&c| c == '.').all(|seg| {
            (1..=3).contains(&seg.len()) && seg.iter().all(|c| c.is_alphabetic() || is_mark(*c))
        });
    let ordinal = matches!(lang, Lang::De | Lang::Tr)
        && (word.len() <= 3 && word.iter().all(char::is_ascii_digit)
            || word.len() >= 2 && word.iter().all(|c| "IVXLCDM".contains(*c)));
    let lower: String = word.iter().flat_map(|c| c.to_lowercase()).collect();
    initial || dotted || ordinal || abbreviations(lang).contains(&lower.as_str())
}

/// Combining marks (Devanagari vowel signs, Thai tone marks) inside abbreviations.
fn is_mark(c: char) -> bool {
    use unicode_general_category::{get_general_category, GeneralCategory as G};
    matches!(
        get_general_category(c),
        G::NonspacingMark | G::SpacingMark | G::EnclosingMark | G::ModifierLetter
    )
}

/// Abbreviations (lowercase, without their final period) that usually precede a name, a
/// number or a noun. Words that often end a sentence (`etc.`, `Inc.`, `usw.`) are left out:
/// the lowercase rule already keeps them inside when the sentence goes on.
fn abbreviations(lang: Lang) -> &'static [&'static str] {
    match lang {
        Lang::En => &[
            "mr", "mrs", "ms", "dr", "prof", "st", "mt", "ft", "sr", "jr", "gen", "gov", "sen",
            "rep", "rev", "lt", "col", "capt", "sgt", "pres", "hon", "no", "nos", "vol", "fig",
            "pp", "vs", "ca", "cf", "approx", "jan", "feb", "aug", "sept", "oct", "nov", "dec",
        ],
        Lang::De => &[
            "dr", "prof", "st", "hl", "nr", "bzw", "ca", "vgl", "bspw", "inkl", "ggf", "evtl",
            "jh", "abs", "bd", "chr", "geb", "gest", "mio", "mrd", "sog", "hr", "fr", "str", "dt",
            "ev",
        ],
        Lang::Es => &[
            "sr", "sra", "srta", "dr", "dra", "d", "dña", "ud", "uds", "pág", "núm", "aprox", "av",
            "avda", "gral", "lic", "ing", "ej", "vol", "cap", "sta", "sto", "ee", "fr",
        ],
        Lang::Vi => &["tp", "ts", "ths", "gs", "pgs", "bs", "st", "dr", "mr"],
        Lang::Ro => &[
            "dl", "dna", "dnă", "dr", "prof", "ing", "nr", "pag", "sf", "str", "gen", "lt", "col",
        ],
        Lang::Ru => &[
            "гг", "вв", "ул", "им", "проф", "акад", "стр", "рис", "см", "тыс", "млн", "млрд",
            "руб", "св", "ст", "пр", "др",
        ],
        Lang::El => &[
            "δηλ", "κα", "αγ", "εκ", "αι", "χλμ", "περ", "σελ", "δρ", "καθ", "βλ", "απεβ", "γεν",
        ],
        Lang::Tr => &[
            "dr", "prof", "doç", "av", "sn", "yy", "alb", "yrd", "öğr", "gen", "bkz", "no", "cad",
            "sok", "mah", "örn", "st",
        ],
        Lang::Hi => &["डॉ", "श्री", "सं", "पृ"],
        // Arabic abbreviations are single letters (initials above); Chinese and Thai have none.
        Lang::Ar | Lang::Zh | Lang::Th => &[],
    }
}

fn is_thai(c: char) -> bool {
    ('\u{0e00}'..='\u{0e7f}').contains(&c)
}

fn thai_cuts(chars: &[char]) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut held = 0; // non-space characters of the sentence so far
    let mut i = 0;
    while i < chars.len() {
        if !is_space(chars[i]) {
            held += 1;
            i += 1;
            continue;
        }
        let run_end = chars[i..]
            .iter()
            .position(|&c| !is_space(c))
            .map_or(chars.len(), |p| i + p);
        let between_thai =
            i > 0 && run_end < chars.len() && is_thai(chars[i - 1]) && is_thai(chars[run_end]);
        if between_thai && held >= THAI_MIN_CHARS {
            cuts.push(i);
            held = 0;
        }
        i = run_end;
    }
    // A short last sentence joins the previous one.
    if let Some(&last) = cuts.last() {
        if chars[last..].iter().filter(|&&c| !is_space(c)).count() < THAI_MIN_CHARS {
            cuts.pop();
        }
    }
    cuts
}

/// Sentence ranges from cut positions: each cut starts a new sentence, dropped when either
/// side would hold no text.
fn ranges_from_cuts(chars: &[char], cuts: &[usize]) -> Vec<Range<usize>> {
    let has_text = |r: Range<usize>| chars[r].iter().any(|&c| !is_space(c));
    let mut ranges: Vec<Range<usize>> = Vec::new();
    let mut start = 0;
    for &cut in cuts {
        if cut > start && cut < chars.len() && has_text(start..cut) && has_text(cut..chars.len()) {
            ranges.push(start..cut);
            start = cut;
        }
    }
    if has_text(start..chars.len()) {
        ranges.push(start..chars.len());
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sentences of `text`, trimmed, after checking the ranges' contract.
    fn split(text: &str, lang: Lang) -> Vec<String> {
        let ranges = split_sentences(text, lang);
        check_contract(text, &ranges);
        ranges
            .iter()
            .map(|r| {
                let s: String = text.chars().skip(r.start).take(r.len()).collect();
                s.trim_matches(is_space).to_string()
            })
            .collect()
    }

    fn check_contract(text: &str, ranges: &[Range<usize>]) {
        let n = text.chars().count();
        let chars: Vec<char> = text.chars().collect();
        if ranges.is_empty() {
            assert!(chars.iter().all(|&c| is_space(c)), "{text:?} lost its text");
            return;
        }
        assert_eq!(ranges[0].start, 0);
        assert_eq!(ranges[ranges.len() - 1].end, n);
        for w in ranges.windows(2) {
            assert_eq!(w[0].end, w[1].start, "{ranges:?}");
        }
        for r in ranges {
            assert!(
                chars[r.clone()].iter().any(|&c| !is_space(c)),
                "empty sentence {r:?} in {text:?}"
            );
            // Whitespace leads a sentence, it never trails one (except the text's end).
            if r.end < n {
                assert!(
                    !is_space(chars[r.end - 1]),
                    "{r:?} ends in a space: {text:?}"
                );
            }
        }
    }

    #[test]
    fn empty_and_blank_texts_have_no_sentence() {
        assert!(split_sentences("", Lang::En).is_empty());
        assert!(split_sentences(" \n\t\u{feff}", Lang::Th).is_empty());
        assert_eq!(
            split("No terminator here", Lang::En),
            ["No terminator here"]
        );
    }

    #[test]
    fn leading_space_belongs_to_the_sentence_after_it() {
        let text = "\u{feff} One. Two.  ";
        assert_eq!(split_sentences(text, Lang::En), vec![0..6, 6..13]);
    }

    #[test]
    fn english_sentences_quotes_and_line_breaks() {
        assert_eq!(
            split(
                "The Panthers defense gave up just 308 points, ranking sixth in the league. \
                 Pro Bowl defensive tackle Kawann Short led the team in sacks with 11. \
                 Fellow lineman Mario Addison added 6½ sacks.",
                Lang::En
            ),
            [
                "The Panthers defense gave up just 308 points, ranking sixth in the league.",
                "Pro Bowl defensive tackle Kawann Short led the team in sacks with 11.",
                "Fellow lineman Mario Addison added 6½ sacks.",
            ]
        );
        assert_eq!(
            split(
                r#"He said "Stop." Then he left! Why? (Nobody knows.) Wait... Then go."#,
                Lang::En
            ),
            [
                r#"He said "Stop.""#,
                "Then he left!",
                "Why?",
                "(Nobody knows.)",
                "Wait...",
                "Then go."
            ]
        );
        assert_eq!(
            split("Super Bowl 50\nThe game was played in 2016.", Lang::En),
            ["Super Bowl 50", "The game was played in 2016."]
        );
    }

    #[test]
    fn english_abbreviations_initials_and_decimals_do_not_split() {
        assert_eq!(
            split(
                "Dr. Smith met Mr. Brown in St. Louis at 3.5 p.m. on Jan. 5. The U.S. Army, \
                 e.g. its engineers, helped. J. R. R. Tolkien wrote it in No. 7 Street. \
                 It grew by 3.5 percent in 2016. In 2017 it fell, i.e. it shrank.",
                Lang::En
            ),
            [
                "Dr. Smith met Mr. Brown in St. Louis at 3.5 p.m. on Jan. 5.",
                "The U.S. Army, e.g. its engineers, helped.",
                "J. R. R. Tolkien wrote it in No. 7 Street.",
                "It grew by 3.5 percent in 2016.",
                "In 2017 it fell, i.e. it shrank.",
            ]
        );
        // Words that often end a sentence are not abbreviations: "etc." splits before a capital.
        assert_eq!(
            split("They sold cars, boats, etc. The firm grew.", Lang::En).len(),
            2
        );
    }

    #[test]
    fn german_ordinals_and_abbreviations() {
        assert_eq!(
            split(
                "Das Spiel fand am 7. Februar 2016 statt. Es war z. B. das 50. Spiel, d. h. ein \
                 Jubiläum. Im 19. Jh. lebte Papst Pius IX. Er war Dr. Müllers Vorbild. \
                 „Das ist gut.“ Dann ging er.",
                Lang::De
            ),
            [
                "Das Spiel fand am 7. Februar 2016 statt.",
                "Es war z. B. das 50. Spiel, d. h. ein Jubiläum.",
                "Im 19. Jh. lebte Papst Pius IX. Er war Dr. Müllers Vorbild.",
                "„Das ist gut.“",
                "Dann ging er.",
            ]
        );
        // A four-digit year is not an ordinal.
        assert_eq!(split("Es geschah 2016. Danach nicht.", Lang::De).len(), 2);
    }

    #[test]
    fn spanish_inverted_marks_and_abbreviations() {
        assert_eq!(
            split(
                "¿Quién ganó? Los Broncos ganaron el partido. El Sr. García, de EE. UU., \
                 llegó. ¡Qué partido!",
                Lang::Es
            ),
            [
                "¿Quién ganó?",
                "Los Broncos ganaron el partido.",
                "El Sr. García, de EE. UU., llegó.",
                "¡Qué partido!",
            ]
        );
    }

    #[test]
    fn vietnamese() {
        assert_eq!(
            split(
                "Đội thủ của Panthers chỉ thua 308 điểm, đứng thứ sáu trong giải đấu. Đồng \
                 nghiệp lineman Mario Addison đã thêm 6½ lần vật ngã. TP. Hồ Chí Minh là \
                 thành phố lớn nhất.",
                Lang::Vi
            ),
            [
                "Đội thủ của Panthers chỉ thua 308 điểm, đứng thứ sáu trong giải đấu.",
                "Đồng nghiệp lineman Mario Addison đã thêm 6½ lần vật ngã.",
                "TP. Hồ Chí Minh là thành phố lớn nhất.",
            ]
        );
    }

    #[test]
    fn chinese_needs_no_space() {
        assert_eq!(
            split(
                "黑豹队的防守只丢了 308分，在联赛中排名第六。他的队友马里奥·爱迪生贡献了 6½ 次擒杀。\
                 这是怎么回事？“当然！”他说。拉瓦锡的学生 E.I.杜邦 创办了火药厂，约1.1 × 10 公吨。",
                Lang::Zh
            ),
            [
                "黑豹队的防守只丢了 308分，在联赛中排名第六。",
                "他的队友马里奥·爱迪生贡献了 6½ 次擒杀。",
                "这是怎么回事？",
                "“当然！”",
                "他说。",
                "拉瓦锡的学生 E.I.杜邦 创办了火药厂，约1.1 × 10 公吨。",
            ]
        );
        // The fullwidth full stop of numbers and list markers does not split.
        assert_eq!(split("第1．章节包含3．5个部分。", Lang::Zh).len(), 1);
    }

    #[test]
    fn hindi_danda_and_abbreviations() {
        assert_eq!(
            split(
                "पैंथर्स की डिफ़ेन्स ने लीग में केवल 308 अंक दिए। साथी लाइनमैन मारिओ एडिसन ने \
                 6½ सैक जोड़े।डॉ. राजेंद्र प्रसाद पहले राष्ट्रपति थे। क्या वे जीते? हाँ।",
                Lang::Hi
            ),
            [
                "पैंथर्स की डिफ़ेन्स ने लीग में केवल 308 अंक दिए।",
                "साथी लाइनमैन मारिओ एडिसन ने 6½ सैक जोड़े।",
                "डॉ. राजेंद्र प्रसाद पहले राष्ट्रपति थे।",
                "क्या वे जीते?",
                "हाँ।",
            ]
        );
    }

    #[test]
    fn arabic_question_mark_and_period() {
        assert_eq!(
            split(
                " لم يتخلى فريق بانثرز سوى عن 308 نقطة، ليحتل المركز السادس في الدوري. وقد أضاف \
                 زميله ماريو أديسون 6 استحواذات ونصف.هل فاز الفريق؟نعم، في عام 632 م. وكان ذلك \
                 بعد 1.5 سنة على طول ط. و. 99 غرباً.",
                Lang::Ar
            ),
            [
                "لم يتخلى فريق بانثرز سوى عن 308 نقطة، ليحتل المركز السادس في الدوري.",
                "وقد أضاف زميله ماريو أديسون 6 استحواذات ونصف.هل فاز الفريق؟",
                "نعم، في عام 632 م.",
                "وكان ذلك بعد 1.5 سنة على طول ط. و. 99 غرباً.",
            ]
        );
    }

    #[test]
    fn greek_question_marks() {
        assert_eq!(
            split(
                "Η άμυνα των Πάνθερς παρέδωσε μόνο 308 πόντους. Ποιος κέρδισε; Οι Μπρόνκος \
                 κέρδισαν\u{37e} Ο κ. Παπαδόπουλος το είπε το 490 π.Χ. στην Αθήνα (απεβ. 869).",
                Lang::El
            ),
            [
                "Η άμυνα των Πάνθερς παρέδωσε μόνο 308 πόντους.",
                "Ποιος κέρδισε;",
                "Οι Μπρόνκος κέρδισαν\u{37e}",
                "Ο κ. Παπαδόπουλος το είπε το 490 π.Χ. στην Αθήνα (απεβ. 869).",
            ]
        );
    }

    #[test]
    fn romanian() {
        assert_eq!(
            split(
                "Apărarea Panthers a cedat doar 308 puncte. Coechipierul de linie Mario Addison \
                 a adăugat încă 6½ sack-uri. Dl. Popescu a trăit în sec. al XIX-lea, în anul \
                 1850 d.Hr. Nu mai știm.",
                Lang::Ro
            ),
            [
                "Apărarea Panthers a cedat doar 308 puncte.",
                "Coechipierul de linie Mario Addison a adăugat încă 6½ sack-uri.",
                "Dl. Popescu a trăit în sec. al XIX-lea, în anul 1850 d.Hr. Nu mai știm.",
            ]
        );
    }

    #[test]
    fn russian_initials_and_abbreviations() {
        assert_eq!(
            split(
                "\u{feff}Защита Пэнтерс уступила всего 308 очков. Нападающий Марио Эдисон добавил \
                 6½ мешков. Это было в 1990 г. в Москве, т. е. в столице. А. С. Пушкин родился \
                 в 1799 году. Население — 5 млн. человек.",
                Lang::Ru
            ),
            [
                "Защита Пэнтерс уступила всего 308 очков.",
                "Нападающий Марио Эдисон добавил 6½ мешков.",
                "Это было в 1990 г. в Москве, т. е. в столице.",
                "А. С. Пушкин родился в 1799 году.",
                "Население — 5 млн. человек.",
            ]
        );
    }

    #[test]
    fn turkish_ordinals() {
        assert_eq!(
            split(
                "Panthers savunması sadece 308 sayı bıraktı. Yan hakem Mario Addison, 6½ sack \
                 ekledi. Dr. Ahmet 19. yüzyılda yaşadı. 50. Super Bowl maçı NFL'nin Şubat'ta \
                 oynandı.",
                Lang::Tr
            ),
            [
                "Panthers savunması sadece 308 sayı bıraktı.",
                "Yan hakem Mario Addison, 6½ sack ekledi.",
                "Dr. Ahmet 19. yüzyılda yaşadı.",
                "50. Super Bowl maçı NFL'nin Şubat'ta oynandı.",
            ]
        );
    }

    #[test]
    fn thai_splits_on_spaces_between_long_enough_chunks() {
        let text = "ทีมรับของแพนเธอร์สถอดใจที่คะแนน 308 ได้อันดับที่หกของลีก ในขณะที่เป็นผู้นำในเอ็นเอฟแอล\
                    ด้วยการอินเตอร์เซป 24 ครั้ง สี่ ครั้ง มาริโอ แอดดิสัน เพื่อนร่วมทีมซึ่งเป็นไลน์แมนแซ็คเพิ่มไป 6½ ครั้ง  \
                    นอกจากนี้ไลน์ของทีมแพนเธอร์สยังมี จาเรด อัลเลน";
        let got = split(text, Lang::Th);
        assert_eq!(
            got,
            [
                "ทีมรับของแพนเธอร์สถอดใจที่คะแนน 308 ได้อันดับที่หกของลีก",
                "ในขณะที่เป็นผู้นำในเอ็นเอฟแอลด้วยการอินเตอร์เซป 24 ครั้ง",
                // 22 code points: long enough to end at the next space.
                "สี่ ครั้ง มาริโอ แอดดิสัน",
                "เพื่อนร่วมทีมซึ่งเป็นไลน์แมนแซ็คเพิ่มไป 6½ ครั้ง",
                "นอกจากนี้ไลน์ของทีมแพนเธอร์สยังมี จาเรด อัลเลน",
            ]
        );
        // Short texts stay whole; Latin text inside Thai does not split on its spaces.
        assert_eq!(split("สั้น มาก", Lang::Th).len(), 1);
        assert_eq!(
            split(
                "ทีมรับของแพนเธอร์สถอดใจ Super Bowl 50 was played here ได้อันดับที่หกของลีก",
                Lang::Th
            )
            .len(),
            1
        );
    }
}
