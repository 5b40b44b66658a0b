//! The id-only tokenizer against the `tokenizers` crate it replays: the same ids, or training and inference would
//! drift from the vectors the encoder was distilled with. Compared on awkward strings, on a sweep of Unicode, and on
//! the model text of documents in ../shared/data (skipped, with a message, where the data is absent); with the
//! shipped file's 128-token window and padding, and without them, so every position of a text is compared.

mod common;

use std::path::PathBuf;

use redflag::model::features::model_text;
use redflag::model::wordpiece::IdTokenizer;
use redflag::{Document, dataset};
use tokenizers::Tokenizer;

fn shipped_json() -> serde_json::Value {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/tokenizer.json");
    serde_json::from_slice(&std::fs::read(file).expect("models/tokenizer.json")).expect("json")
}

/// The shipped `tokenizer.json`, or (`window == false`) the same without its truncation and padding.
fn tokenizer_json(window: bool) -> Vec<u8> {
    let mut json = shipped_json();
    if !window {
        json["truncation"] = serde_json::Value::Null;
        json["padding"] = serde_json::Value::Null;
    }
    json.to_string().into_bytes()
}

/// Ours and the crate's, from the same file.
fn from_json(json: &[u8]) -> (IdTokenizer, Tokenizer) {
    (IdTokenizer::from_bytes(json).expect("ours loads"), Tokenizer::from_bytes(json).expect("the crate's loads"))
}

fn both(window: bool) -> (IdTokenizer, Tokenizer) {
    from_json(&tokenizer_json(window))
}

fn crate_ids(t: &Tokenizer, text: &str) -> Vec<u32> {
    t.encode_fast(text, false).expect("encode").get_ids().to_vec()
}

fn assert_same(fast: &IdTokenizer, slow: &Tokenizer, text: &str) {
    let expected = crate_ids(slow, text);
    assert_eq!(fast.ids(text), expected, "ids differ for {text:?}");
}

#[test]
fn awkward_strings_get_the_crates_ids() {
    let (whole, whole_ref) = both(false);
    let (window, window_ref) = both(true);
    let long = "The quick brown fox, naïvely, jumps over 0 lazy dogs! ".repeat(40);
    for text in [
        "",
        "   \t\n ",
        "Hello [CLS] world a[UNK]b [unk] x[MASK][SEP][PAD]",
        "naïve CAFÉ ΣΑΣ İstanbul 北京 a\x0bb a\x1cb a\u{a0}b ﬁne ½ ① Ⅻ ﬃ",
        "déjà-vu!! Don't—stop… “quoted” «guillemets» ‘single’ ¿qué? ¡sí!",
        "EARN $300/day!!! Contact: +1 (415) 555-0100 or hr@gmail.com → https://wa.me/14155550100?text=hi",
        "zero\u{200b}width join\u{200d}er soft\u{ad}hyphen bidi\u{202e}override bom\u{feff}x",
        "nul\0byte replacement\u{fffd}char del\x7fete bell\x07ring",
        "한국어 텍스트 日本語のテキスト ไทย हिन्दी العربية עברית",
        "emoji 👍🏽 family 👨‍👩‍👧 flag 🇬🇧 keycap 1️⃣",
        "combining e\u{301}\u{300} o\u{308}\u{304} a\u{328}\u{301} q\u{323}\u{307}",
        "𝐛𝐨𝐥𝐝 𝕕𝕠𝕦𝕓𝕝𝕖 ｆｕｌｌｗｉｄｔｈ",
        "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
        &"x".repeat(100),
        &"x".repeat(101),
        &"é".repeat(101),
        // Over 100 bytes but not 100 characters, and over both: the length limit counts characters.
        &"ж".repeat(60),
        &"ж".repeat(101),
        "#URL_0# #EMAIL_0# #PHONE_0# 0 link email address phone number",
        &long,
    ] {
        assert_same(&whole, &whole_ref, text);
        assert_same(&window, &window_ref, text);
    }
}

/// Every code point below U+3100, then samples of the planes above, each alone, at a word's start and end, and
/// beside punctuation and a combining mark. Alone matters: glued to a known word, an unknown character turns the
/// whole word into `[UNK]`, which would hide a wrong normalisation of it.
#[test]
fn a_sweep_of_unicode_gets_the_crates_ids() {
    let (fast, slow) = both(false);
    let points = (0u32..0x3100).chain((0x3100..0x30000).step_by(7)).chain(0xE0000..0xE0080);
    let chars: Vec<char> = points.filter_map(char::from_u32).collect();
    for block in chars.chunks(32) {
        let text: String = block.iter().map(|c| format!("{c} {c}ing a{c} ({c}) {c}\u{301} ")).collect();
        assert_same(&fast, &slow, &text);
    }
    // 1,827 of the characters are a real word piece on their own (BERT's vocabulary knows few scripts), so for
    // those the comparison above checks the normalisation id by id, not only that both sides gave up.
    let known = chars.iter().filter(|c| fast.ids(&c.to_string()).iter().any(|&id| id != 100)).count();
    assert!(known > 1_500, "only {known} of {} characters are word pieces", chars.len());
}

/// The other truncation and padding settings a `tokenizer.json` can hold, each against the crate.
#[test]
fn every_window_and_padding_setting_gets_the_crates_ids() {
    let texts = ["", "one", "one two three, four five six seven eight nine ten eleven twelve thirteen"];
    let settings = [
        (serde_json::json!({"max_length": 5, "strategy": "LongestFirst", "stride": 0, "direction": "Left"}), None),
        (serde_json::json!({"max_length": 5, "strategy": "OnlyFirst", "stride": 2, "direction": "Right"}), None),
        (serde_json::Value::Null, Some(serde_json::json!({"strategy": {"Fixed": 7}, "direction": "Left"}))),
        (serde_json::Value::Null, Some(serde_json::json!({"strategy": "BatchLongest", "pad_to_multiple_of": 4}))),
        (serde_json::Value::Null, Some(serde_json::json!({"strategy": {"Fixed": 6}, "pad_to_multiple_of": 4}))),
    ];
    for (truncation, padding) in settings {
        let mut json = shipped_json();
        json["truncation"] = truncation.clone();
        json["padding"] = padding.clone().map_or(serde_json::Value::Null, |mut p| {
            let defaults =
                serde_json::json!({"direction": "Right", "pad_to_multiple_of": null, "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"});
            for (k, v) in defaults.as_object().expect("object") {
                p.as_object_mut().expect("object").entry(k.clone()).or_insert(v.clone());
            }
            p
        });
        let (fast, slow) = from_json(json.to_string().as_bytes());
        for text in texts {
            assert_eq!(fast.ids(text), crate_ids(&slow, text), "{text:?} with {truncation} and {padding:?}");
        }
    }
}

#[test]
fn the_window_keeps_the_first_128_ids_and_pads_a_short_text() {
    let (whole, _) = both(false);
    let (window, _) = both(true);
    let text = "one two three four five ".repeat(100);
    assert_eq!(whole.ids(&text).len(), 500);
    assert_eq!(window.ids(&text), whole.ids(&text)[..128]);
    let short = window.ids("one two");
    assert_eq!(short.len(), 128);
    assert_eq!(short[..2], whole.ids("one two")[..]);
    assert!(short[2..].iter().all(|&id| id == 0), "[PAD] is id 0: {short:?}");
}

#[test]
fn a_tokenizer_of_another_kind_is_refused_with_what_was_expected() {
    let mut json: serde_json::Value = serde_json::from_slice(&tokenizer_json(true)).expect("json");
    json["pre_tokenizer"] = serde_json::json!({"type": "Whitespace"});
    let err = IdTokenizer::from_bytes(json.to_string().as_bytes()).expect_err("refused");
    assert!(err.contains("BertPreTokenizer"), "{err}");
    assert!(IdTokenizer::from_bytes(b"{not json").is_err());

    let mut crate_tokenizer = Tokenizer::from_bytes(tokenizer_json(true)).expect("loads");
    crate_tokenizer.set_encode_special_tokens(true);
    let err = IdTokenizer::new(&crate_tokenizer).expect_err("special tokens as text are refused");
    assert!(err.contains("special tokens"), "{err}");

    let mut json = shipped_json();
    json["truncation"]["stride"] = serde_json::json!(128);
    let err = IdTokenizer::from_bytes(json.to_string().as_bytes()).expect_err("refused");
    assert!(err.contains("stride 128 must be below max_length 128"), "{err}");
}

/// Every tenth document of the training data, as the model reads it, whole (all of them take eight minutes in a
/// debug build; they matched when this was written).
#[test]
fn the_training_data_gets_the_crates_ids() {
    let Some(data) = common::shared_data() else { return };
    let (fast, slow) = both(false);
    let examples = dataset::load(&data, None).expect("data loads");
    let mut compared = 0;
    for example in examples.iter().step_by(10) {
        let Ok(doc) = Document::from_input(&example.input) else { continue };
        let text = model_text(&doc);
        assert_eq!(fast.ids(&text), crate_ids(&slow, &text), "ids differ for example {}", example.id);
        compared += 1;
    }
    assert!(compared > 2_000, "only {compared} documents compared");
}
