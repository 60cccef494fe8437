//! Name folding for search: what a user types should find what the data spells.

/// Folds a name for comparison: accents removed (transliterated), lower case, every run
/// of punctuation or space turned into one space.
///
/// ```ignore
/// use crate::model::text::fold;
/// assert_eq!(fold("Ségou"), "segou");
/// assert_eq!(fold("  Tabankort (Ménaka) "), "tabankort menaka");
/// assert_eq!(fold("Aguel'hoc"), "aguel hoc");
/// ```
/// (Run as the unit test `doc_example_fold`: the module is internal.)
pub fn fold(s: &str) -> String {
    let ascii = deunicode::deunicode(s).to_lowercase();
    let mut out = String::with_capacity(ascii.len());
    for word in ascii.split(|c: char| !c.is_ascii_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod doc_examples {
    #[test]
    fn doc_example_fold() {
        use crate::model::text::fold;
        assert_eq!(fold("Ségou"), "segou");
        assert_eq!(fold("  Tabankort (Ménaka) "), "tabankort menaka");
        assert_eq!(fold("Aguel'hoc"), "aguel hoc");
    }
}
