//! Gazetteer search over place names and alternate names, accents and case ignored.

use super::QueryError;
use crate::atlas::Atlas;
use crate::model::text::fold;

/// How well a folded query matches a folded name; lower is better.
fn match_rank(name: &str, q: &str) -> Option<u8> {
    if name == q {
        Some(0)
    } else if name.starts_with(q) {
        Some(1)
    } else if name.split(' ').any(|w| w.starts_with(q)) {
        Some(2)
    } else if name.contains(q) {
        Some(3)
    } else {
        None
    }
}

/// How well a place matches: (rank of its best-matching name, whether that is an
/// alternate name, larger population first); lower is better.
type Score = (u8, bool, std::cmp::Reverse<u64>);

/// The places some name of which `rank` accepts against the folded `q`, with their scores.
fn scored<'a>(
    atlas: &'a Atlas,
    q: &'a str,
    rank: impl Fn(&str, &str) -> Option<u8> + 'a,
) -> impl Iterator<Item = (Score, usize)> + 'a {
    atlas
        .place_keys()
        .iter()
        .enumerate()
        .filter_map(move |(i, keys)| {
            let (r, alt) = keys
                .iter()
                .enumerate()
                .filter_map(|(k, name)| rank(name, q).map(|r| (r, k > 0)))
                .min()?;
            let pop = atlas.places()[i].population.unwrap_or(0);
            Some(((r, alt, std::cmp::Reverse(pop)), i))
        })
}

/// Places whose name or an alternate name matches `q`, best first: exact, then prefix,
/// then word prefix, then substring; a match on the main name beats one on an alternate;
/// larger towns first among equals.
pub fn search(atlas: &Atlas, q: &str) -> Vec<usize> {
    let q = fold(q);
    if q.is_empty() {
        return Vec::new();
    }
    let mut ranked: Vec<(Score, usize)> = scored(atlas, &q, match_rank).collect();
    ranked.sort();
    ranked.into_iter().map(|(_, i)| i).collect()
}

/// The place a user means by `name`: an exact (folded) match of its name, else of an
/// alternate name; among several, the larger town. The first of [`search`]'s answers
/// when that matches exactly, found by scoring exact matches only (every near query
/// names a place: ranking every partial match was 3% of one).
///
/// # Errors
/// [`QueryError::UnknownPlace`] with up to five close names when none matches exactly.
pub fn resolve(atlas: &Atlas, name: &str) -> Result<usize, QueryError> {
    let q = fold(name);
    let exact = |name: &str, q: &str| (name == q).then_some(0);
    if let Some((_, i)) = scored(atlas, &q, exact).min() {
        return Ok(i);
    }
    Err(QueryError::UnknownPlace {
        name: name.to_string(),
        suggestions: suggest(atlas, &q),
    })
}

fn suggest(atlas: &Atlas, q: &str) -> Vec<String> {
    let mut scored: Vec<(f64, usize)> = atlas
        .place_keys()
        .iter()
        .enumerate()
        .map(|(i, keys)| {
            let s = keys
                .iter()
                .map(|k| {
                    let prefix_bonus = if !q.is_empty() && k.starts_with(q) {
                        0.2
                    } else {
                        0.0
                    };
                    strsim::jaro_winkler(q, k) + prefix_bonus
                })
                .fold(0.0, f64::max);
            (s, i)
        })
        .filter(|&(s, _)| s >= 0.75)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut names: Vec<String> = Vec::new();
    for (_, i) in scored {
        let n = &atlas.places()[i].name;
        if !names.contains(n) {
            names.push(n.clone());
        }
        if names.len() == 5 {
            break;
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `resolve` gives what its definition says: the first of `search`'s answers when
    /// that one matches exactly, else none. Every name and alternate name of the shipped
    /// places is asked, in other cases and spellings, with shortened and lengthened ones.
    #[test]
    fn resolve_is_the_first_search_answer_that_matches_exactly() {
        let atlas = crate::synth::test_atlas(0, 1);
        let by_search = |name: &str| {
            let q = fold(name);
            search(&atlas, &q)
                .first()
                .copied()
                .filter(|&i| atlas.place_keys()[i].contains(&q))
        };
        let mut asked = 0;
        for p in atlas.places() {
            for name in std::iter::once(&p.name).chain(&p.alt_names) {
                let cut: String = name.chars().take(name.chars().count().max(2) - 1).collect();
                for q in [name.clone(), name.to_uppercase(), cut, format!("{name}x")] {
                    assert_eq!(resolve(&atlas, &q).ok(), by_search(&q), "{q:?}");
                    asked += 1;
                }
            }
        }
        assert!(asked > 400, "{asked}");
        assert!(resolve(&atlas, "Mopti").is_ok() && resolve(&atlas, "Nowhere").is_err());
    }

    /// Places sharing a name: a main name beats an alternate, then the larger town, then
    /// the first listed, as in `search`.
    #[test]
    fn resolve_breaks_ties_as_search_ranks() {
        let place = |name: &str, alt: &[&str], population: Option<u64>| crate::model::Place {
            id: name.to_string(),
            name: name.to_string(),
            alt_names: alt.iter().map(|a| a.to_string()).collect(),
            population,
            feature_code: None,
            source: "test".into(),
            pos: crate::model::LonLat::new(-4.0, 14.0),
        };
        let places = vec![
            place("Kona", &[], Some(1_000)),
            place("Big Kona", &["Kona", "Douna"], Some(50_000)),
            place("Douna", &[], None),
            place("Douna", &[], Some(300)),
            place("Tiny", &["Sofara"], Some(10)),
            place("Large", &["Sofara"], Some(900)),
            place("Same", &[], Some(5)),
            place("Same", &[], Some(5)),
        ];
        let atlas = Atlas::build(crate::load::Dataset {
            places,
            ..Default::default()
        });
        for (name, want) in [
            ("kona", 0),
            ("douna", 3),
            ("sofara", 5),
            ("same", 6),
            ("big kona", 1),
        ] {
            assert_eq!(resolve(&atlas, name).ok(), Some(want), "{name}");
            assert_eq!(search(&atlas, &fold(name)).first(), Some(&want), "{name}");
        }
    }
}
