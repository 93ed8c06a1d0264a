//! Language of a prediction, and the paper's *language error*.
//!
//! Detection uses Lingua in its high-accuracy mode (its default), restricted to the 12 XQuAD
//! languages, as the paper does. The detector is built once, on first use, because loading its
//! models takes a while.
//!
//! Language-error rule (scenario en-x: question in x, answer expected in English):
//! - a prediction with no letter at all (`1876`, `12.5%`, empty) is never a language error:
//!   numbers and symbols belong to no language, and Lingua would only guess;
//! - otherwise it is a language error exactly when Lingua's most likely language is x.
//!   Nothing else is filtered: very short answers (one name, one word) are judged as they come,
//!   like the paper does, so a name spelled the same in both languages may occasionally be
//!   flagged; Lingua returns no language for text it cannot decide on, which counts as no error.
//! - scenarios where the question and answer languages agree (en-en, x-x) have no language
//!   error at all (`None`), which keeps them out of the error-rate denominators.
//!
//! Lingua cannot tell the language of most bare names (with the 12 languages it calls "Paris"
//! German, "Denver Broncos" Spanish, "Victoria" Romanian), so [`language_error`] alone flags
//! correct copies of names in en-x for Latin-script x. The paper's formula guards against this
//! with the reference answer: `I(Lang(r) = en) * I(Lang(a) = x)`, counted over the incorrect
//! responses only. [`language_error_with_gold`] implements that product; restricting to the
//! incorrect responses is the aggregating caller's job.

use super::chars::is_letter;
use crate::data::Lang;
use lingua::{Language, LanguageDetector, LanguageDetectorBuilder};
use std::sync::OnceLock;

/// The Lingua language for each of the 12, in [`Lang::ALL`] order.
const LINGUA_LANGUAGES: [Language; 12] = [
    Language::English,
    Language::German,
    Language::Spanish,
    Language::Vietnamese,
    Language::Chinese,
    Language::Hindi,
    Language::Arabic,
    Language::Greek,
    Language::Romanian,
    Language::Russian,
    Language::Thai,
    Language::Turkish,
];

/// The shared detector, built on first use.
fn detector() -> &'static LanguageDetector {
    static DETECTOR: OnceLock<LanguageDetector> = OnceLock::new();
    DETECTOR.get_or_init(|| LanguageDetectorBuilder::from_languages(&LINGUA_LANGUAGES).build())
}

fn lang_of(language: Language) -> Option<Lang> {
    LINGUA_LANGUAGES
        .iter()
        .position(|&l| l == language)
        .map(|i| Lang::ALL[i])
}

fn has_letter(text: &str) -> bool {
    text.chars().any(is_letter)
}

/// The most likely of the 12 languages; `None` for text without letters or when Lingua cannot
/// decide.
pub fn detect(text: &str) -> Option<Lang> {
    if !has_letter(text) {
        return None;
    }
    detector().detect_language_of(text).and_then(lang_of)
}

/// Whether the prediction is in the question's language instead of the answer's (see the
/// module documentation). `None` when the two languages are the same, so no such error exists.
pub fn language_error(prediction: &str, answer_lang: Lang, question_lang: Lang) -> Option<bool> {
    if answer_lang == question_lang {
        return None;
    }
    Some(detect(prediction) == Some(question_lang))
}

/// The paper's language-error indicator: the gold answer is detected as the answer language
/// *and* the prediction as the question language. `None` when the two languages are the same.
pub fn language_error_with_gold(
    prediction: &str,
    gold: &str,
    answer_lang: Lang,
    question_lang: Lang,
) -> Option<bool> {
    let error = language_error(prediction, answer_lang, question_lang)?;
    Some(error && detect(gold) == Some(answer_lang))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One clear sentence per language, written for this test.
    const SENTENCES: [(Lang, &str); 12] = [
        (
            Lang::En,
            "The old bridge over the river was rebuilt after the flood.",
        ),
        (
            Lang::De,
            "Die alte Brücke über den Fluss wurde nach dem Hochwasser wieder aufgebaut.",
        ),
        (
            Lang::Es,
            "El viejo puente sobre el río fue reconstruido después de la inundación.",
        ),
        (
            Lang::Vi,
            "Cây cầu cũ bắc qua sông đã được xây dựng lại sau trận lũ.",
        ),
        (Lang::Zh, "洪水过后，河上的那座旧桥被重新修建了。"),
        (Lang::Hi, "बाढ़ के बाद नदी पर बना पुराना पुल फिर से बनाया गया।"),
        (Lang::Ar, "أعيد بناء الجسر القديم فوق النهر بعد الفيضان."),
        (
            Lang::El,
            "Η παλιά γέφυρα πάνω από το ποτάμι ξαναχτίστηκε μετά την πλημμύρα.",
        ),
        (
            Lang::Ro,
            "Podul vechi de peste râu a fost reconstruit după inundație.",
        ),
        (
            Lang::Ru,
            "Старый мост через реку был восстановлен после наводнения.",
        ),
        (Lang::Th, "สะพานเก่าข้ามแม่น้ำถูกสร้างขึ้นใหม่หลังน้ำท่วม"),
        (
            Lang::Tr,
            "Nehrin üzerindeki eski köprü selden sonra yeniden inşa edildi.",
        ),
    ];

    #[test]
    fn mapping_follows_lang_order() {
        for (i, lang) in Lang::ALL.into_iter().enumerate() {
            assert_eq!(lang_of(LINGUA_LANGUAGES[i]), Some(lang));
        }
        assert_eq!(lang_of(Language::English), Some(Lang::En));
    }

    #[test]
    fn clear_sentences_are_detected_in_every_language() {
        for (lang, sentence) in SENTENCES {
            assert_eq!(detect(sentence), Some(lang), "{sentence}");
        }
    }

    #[test]
    fn text_without_letters_has_no_language() {
        for text in ["1876", "", "  ", "12.5%", "1,000 - 2,000"] {
            assert_eq!(detect(text), None, "{text:?}");
        }
    }

    #[test]
    fn language_error_in_en_x() {
        assert_eq!(
            language_error("Die alte Brücke über den Fluss", Lang::En, Lang::De),
            Some(true)
        );
        assert_eq!(
            language_error("the old bridge over the river", Lang::En, Lang::De),
            Some(false)
        );
        assert_eq!(language_error("河上的旧桥", Lang::En, Lang::Zh), Some(true));
        assert_eq!(language_error("1876", Lang::En, Lang::Zh), Some(false));
        // Chinese prediction in an en-ru sample: wrong, but not the question's language.
        assert_eq!(
            language_error("河上的旧桥", Lang::En, Lang::Ru),
            Some(false)
        );
    }

    #[test]
    fn same_language_scenarios_have_no_language_error() {
        assert_eq!(language_error("anything", Lang::En, Lang::En), None);
        assert_eq!(language_error("任何", Lang::Zh, Lang::Zh), None);
        assert_eq!(
            language_error_with_gold("任何", "任何", Lang::Zh, Lang::Zh),
            None
        );
    }

    #[test]
    fn gold_guard_spares_names_lingua_cannot_place() {
        // Lingua places this bare name in German, so the prediction-only rule flags it ...
        assert_eq!(detect("Berlin"), Some(Lang::De));
        assert_eq!(language_error("Berlin", Lang::En, Lang::De), Some(true));
        // ... but the gold is the same name, not detected as English: no language error.
        assert_eq!(
            language_error_with_gold("Berlin", "Berlin", Lang::En, Lang::De),
            Some(false)
        );
        let gold = "the old bridge over the river";
        assert_eq!(
            language_error_with_gold("die alte Brücke über den Fluss", gold, Lang::En, Lang::De),
            Some(true)
        );
        assert_eq!(
            language_error_with_gold(gold, gold, Lang::En, Lang::De),
            Some(false)
        );
    }
}
