//! Gazetteer search over place names and alternate names, accents and case ignored.

use super::QueryError;
use crate::atlas::Atlas;
use crate::text::fold;

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

/// Places whose name or an alternate name matches `q`, best first: exact, then prefix,
/// then word prefix, then substring; a match on the main name beats one on an alternate;
/// larger towns first among equals.
pub fn search(atlas: &Atlas, q: &str) -> Vec<usize> {
    let q = fold(q);
    if q.is_empty() {
        return Vec::new();
    }
    // (match rank, matched an alternate name, larger population first) per place.
    type Score = (u8, bool, std::cmp::Reverse<u64>);
    let mut ranked: Vec<(Score, usize)> = atlas
        .place_keys()
        .iter()
        .enumerate()
        .filter_map(|(i, keys)| {
            let (rank, alt) = keys
                .iter()
                .enumerate()
                .filter_map(|(k, name)| match_rank(name, &q).map(|r| (r, k > 0)))
                .min()?;
            let pop = atlas.places()[i].population.unwrap_or(0);
            Some(((rank, alt, std::cmp::Reverse(pop)), i))
        })
        .collect();
    ranked.sort();
    ranked.into_iter().map(|(_, i)| i).collect()
}

/// The place a user means by `name`: an exact (folded) match of its name, else of an
/// alternate name.
///
/// # Errors
/// [`QueryError::UnknownPlace`] with up to five close names when none matches exactly.
pub fn resolve(atlas: &Atlas, name: &str) -> Result<usize, QueryError> {
    let q = fold(name);
    if let Some(&i) = search(atlas, &q).first()
        && atlas.place_keys()[i].contains(&q)
    {
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
