//! Deterministic synthetic ACLED-format events for benchmarks: clustered around the real
//! towns of the gazetteer and along the main roads between them, with realistic dates
//! (1997-2020, most after 2012), types, actors and fatalities. Every row says it is
//! synthetic in its `source`; such files are generated on demand and never shipped.

use std::f64::consts::PI;
use std::io::Write;

use crate::atlas::Atlas;
use crate::geodesy::destination;
use crate::model::{ACLED_COLUMNS, LonLat};

/// SplitMix64: small, fast, and the same sequence on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-300), self.unit());
        (-2.0 * u.ln()).sqrt() * (2.0 * PI * v).cos()
    }

    /// An index drawn with probability proportional to `weights` (cumulative form).
    fn pick(&mut self, cumulative: &[f64]) -> usize {
        let total = *cumulative.last().unwrap_or(&1.0);
        let r = self.unit() * total;
        cumulative
            .partition_point(|&c| c <= r)
            .min(cumulative.len() - 1)
    }
}

fn cumulative(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    weights
        .scan(0.0, |acc, w| {
            *acc += w;
            Some(*acc)
        })
        .collect()
}

/// ACLED event types with their sub-types and share of events.
const TYPES: &[(&str, f64, &[&str])] = &[
    (
        "Battles",
        35.0,
        &[
            "Armed clash",
            "Government regains territory",
            "Non-state actor overtakes territory",
        ],
    ),
    (
        "Violence against civilians",
        25.0,
        &["Attack", "Abduction/forced disappearance"],
    ),
    (
        "Explosions/Remote violence",
        15.0,
        &[
            "Remote explosive/landmine/IED",
            "Air/drone strike",
            "Shelling/artillery/missile attack",
            "Suicide bomb",
        ],
    ),
    (
        "Protests",
        10.0,
        &["Peaceful protest", "Protest with intervention"],
    ),
    ("Riots", 5.0, &["Violent demonstration", "Mob violence"]),
    (
        "Strategic developments",
        10.0,
        &[
            "Looting/property destruction",
            "Agreement",
            "Arrests",
            "Other",
        ],
    ),
];

const ACTORS: &[&str] = &[
    "Military Forces of Mali (2021-)",
    "JNIM: Group for Support of Islam and Muslims",
    "Islamic State (Sahel)",
    "MNLA: National Movement for the Liberation of Azawad",
    "CMA: Coordination of Azawad Movements",
    "GATIA: Imghad Tuareg Self-Defense Group and Allies",
    "Dan Na Ambassagou",
    "Dozo Communal Militia (Mali)",
    "MINUSMA: United Nations Multidimensional Integrated Stabilization Mission in Mali",
    "Operation Barkhane",
    "Unidentified Armed Group (Mali)",
];

/// Main roads, as pairs of gazetteer towns.
const ROADS: &[(&str, &str)] = &[
    ("Bamako", "Ségou"),
    ("Ségou", "Sévaré"),
    ("Sévaré", "Douentza"),
    ("Douentza", "Gossi"),
    ("Gossi", "Gao"),
    ("Gao", "Bourem"),
    ("Gao", "Ansongo"),
    ("Gao", "Ménaka"),
    ("Gao", "Anéfis"),
    ("Anéfis", "Kidal"),
    ("Kidal", "Aguelhok"),
    ("Aguelhok", "Tessalit"),
    ("Sévaré", "Bandiagara"),
    ("Bandiagara", "Bankass"),
    ("Bankass", "Koro"),
    ("Ségou", "Niono"),
    ("Niono", "Diabaly"),
    ("Douentza", "Boni"),
    ("Boni", "Hombori"),
    ("Timbuktu", "Goundam"),
    ("Mopti", "Djenné"),
];

fn year_weight(year: i32) -> f64 {
    match year {
        ..=2011 => 1.0,
        2012..=2014 => 8.0,
        y => 8.0 + 4.0 * (y - 2014) as f64,
    }
}

/// The weights synthetic events are drawn from, made once from the atlas.
struct Generator<'a> {
    rng: Rng,
    seed: u64,
    places: &'a [crate::model::Place],
    town_weights: Vec<f64>,
    roads: Vec<(usize, usize)>,
    years: Vec<i32>,
    year_cum: Vec<f64>,
    type_cum: Vec<f64>,
    /// Each place's region: ISO 3166-2 id and name (admin1).
    regions: Vec<(String, String)>,
    source: String,
}

impl<'a> Generator<'a> {
    fn new(atlas: &'a Atlas, seed: u64) -> Generator<'a> {
        let places = atlas.places();
        // Towns weigh by the square root of their population; the conflict belt (centre
        // and north) three times more.
        let town_weights = cumulative(places.iter().map(|p| {
            let pop = p.population.unwrap_or(5_000).max(1_000) as f64;
            pop.sqrt() * if p.pos.lat > 13.8 { 3.0 } else { 1.0 }
        }));
        let find = |name: &str| places.iter().position(|p| p.name == name);
        let roads = ROADS
            .iter()
            .filter_map(|(a, b)| Some((find(a)?, find(b)?)))
            .collect();
        let years: Vec<i32> = (1997..=2020).collect();
        let year_cum = cumulative(years.iter().map(|&y| year_weight(y)));
        let regions = places
            .iter()
            .map(|p| {
                atlas.region_at(p.pos).map_or_else(Default::default, |r| {
                    let r = &atlas.regions()[r as usize];
                    (r.id.clone(), r.name.clone())
                })
            })
            .collect();
        Generator {
            rng: Rng(seed ^ 0x5A4E_4154_4C41_5321),
            seed,
            places,
            town_weights,
            roads,
            years,
            year_cum,
            type_cum: cumulative(TYPES.iter().map(|t| t.1)),
            regions,
            source: format!("SYNTHETIC (sahel-atlas gen-events --seed {seed}): not real events"),
        }
    }

    /// Where the next event happens: (anchor town, position, ACLED geo_precision).
    fn position(&mut self) -> (usize, LonLat, u8) {
        let rng = &mut self.rng;
        let places = self.places;
        if !self.roads.is_empty() && rng.unit() < 0.3 {
            // Along a road, a couple of km either side.
            let (a, b) = self.roads[(rng.next() % self.roads.len() as u64) as usize];
            let t = rng.unit();
            let (pa, pb) = (places[a].pos, places[b].pos);
            let on = LonLat::new(
                pa.lon + t * (pb.lon - pa.lon),
                pa.lat + t * (pb.lat - pa.lat),
            );
            let p = destination(on, rng.unit() * 360.0, (rng.normal() * 2.0).abs());
            (if t < 0.5 { a } else { b }, p, 2)
        } else {
            // Around a town: most within a few km, a tail out to tens of km.
            let town = rng.pick(&self.town_weights);
            let spread_km = if rng.unit() < 0.8 { 3.0 } else { 25.0 };
            let p = destination(
                places[town].pos,
                rng.unit() * 360.0,
                (rng.normal() * spread_km).abs(),
            );
            (town, p, if spread_km < 5.0 { 1 } else { 2 })
        }
    }
}

/// Associated actors ACLED lists beside the main ones (often none).
const ASSOCIATES: &[&str] = &[
    "Wagner Group",
    "Fulani Ethnic Militia (Mali)",
    "Dogon Ethnic Militia (Mali)",
    "Tuareg Ethnic Militia (Mali)",
    "Civilians (Mali); Fulani Ethnic Group (Mali)",
    "Ansar Dine",
    "Katiba Macina",
    "Military Forces of Burkina Faso (2022-)",
];

const SOURCE_SCALES: &[&str] = &[
    "National",
    "Local partner-National",
    "Subnational",
    "International",
    "Other",
];

/// Sentences that lengthen `notes` the way ACLED's do: context, sourcing, tolls.
const NOTE_CLAUSES: &[&str] = &[
    "The attackers arrived on motorbikes and withdrew towards the border after the clash.",
    "Several houses and granaries were set on fire and livestock was stolen.",
    "The army said it had repelled the attack and recovered weapons and vehicles.",
    "Local sources report that the village had refused to pay zakat to the group.",
    "Fatality counts differ between sources; the lowest reported figure is used.",
    "Residents fled to the nearest town, where humanitarian agencies registered displaced families.",
    "An improvised explosive device struck a vehicle of the convoy on the main road.",
    "The group later claimed the attack in a statement relayed by its propaganda outlet.",
];

/// Each country's ISO 3166-1 numeric code by the ISO 3166-2 prefix of its regions.
fn country(region_id: &str) -> (&'static str, u16) {
    match region_id.split('-').next().unwrap_or("") {
        "NE" => ("Niger", 562),
        "BF" => ("Burkina Faso", 854),
        "MR" => ("Mauritania", 478),
        "DZ" => ("Algeria", 12),
        "SN" => ("Senegal", 686),
        "GN" => ("Guinea", 324),
        "CI" => ("Ivory Coast", 384),
        _ => ("Mali", 466),
    }
}

/// ACLED's actor category code (`inter1`, `inter2`) for the actors above.
fn inter_code(actor: &str) -> u8 {
    match actor {
        a if a.starts_with("Military Forces") => 1,
        a if a.starts_with("MNLA") || a.starts_with("CMA") || a.starts_with("JNIM") => 2,
        a if a.starts_with("Islamic State") || a.starts_with("Unidentified") => 2,
        a if a.starts_with("GATIA") || a.starts_with("Dan Na") || a.starts_with("Dozo") => 4,
        a if a.starts_with("Civilians") => 7,
        _ => 8,
    }
}

/// ACLED's `disorder_type` of an event type.
fn disorder(event_type: &str) -> &'static str {
    match event_type {
        "Protests" | "Riots" => "Demonstrations",
        "Strategic developments" => "Strategic developments",
        _ => "Political violence",
    }
}

/// The people and groups of one event, in ACLED's columns.
struct Sides {
    actor1: &'static str,
    assoc1: &'static str,
    actor2: &'static str,
    assoc2: &'static str,
}

impl Sides {
    /// `inter1`, `inter2` and `interaction` (the two codes, lower first; one alone x10).
    fn interaction(&self) -> (u8, u8, u8) {
        let one = inter_code(self.actor1);
        if self.actor2.is_empty() {
            return (one, 0, one * 10);
        }
        let two = inter_code(self.actor2);
        (one, two, one.min(two) * 10 + one.max(two))
    }

    fn civilian_targeting(&self) -> &'static str {
        if self.actor2.starts_with("Civilians") {
            "Civilian targeting"
        } else {
            ""
        }
    }
}

impl Generator<'_> {
    fn associate(&mut self) -> &'static str {
        if self.rng.unit() < 0.7 {
            ""
        } else {
            ASSOCIATES[(self.rng.next() % ASSOCIATES.len() as u64) as usize]
        }
    }

    fn sides(&mut self, event_type: &str) -> Sides {
        let actor1 = ACTORS[(self.rng.next() % ACTORS.len() as u64) as usize];
        let actor2 = match event_type {
            "Violence against civilians" => "Civilians (Mali)",
            "Protests" | "Riots" => "",
            _ => ACTORS[(self.rng.next() % ACTORS.len() as u64) as usize],
        };
        Sides {
            actor1,
            assoc1: self.associate(),
            actor2,
            assoc2: self.associate(),
        }
    }

    /// A paragraph of 80 to about 600 characters, unique to the event.
    fn notes(
        &mut self,
        date: &str,
        sides: &Sides,
        sub: &str,
        location: &str,
        fatalities: u32,
    ) -> String {
        let other = if sides.actor2.is_empty() {
            "residents"
        } else {
            sides.actor2
        };
        let mut notes = format!(
            "On {date}, {} ({sub}) involving {other} in {location}. {fatalities} reported fatalities.",
            sides.actor1
        );
        let clauses = (self.rng.normal().abs() * 1.5) as usize;
        for _ in 0..clauses.min(5) {
            notes.push(' ');
            notes.push_str(NOTE_CLAUSES[(self.rng.next() % NOTE_CLAUSES.len() as u64) as usize]);
        }
        notes
    }
}

impl Generator<'_> {
    /// The `i`th event as a CSV record of [`ACLED_COLUMNS`].
    fn record(&mut self, i: u64) -> [String; 31] {
        let (anchor, pos, precision) = self.position();
        let rng = &mut self.rng;
        let year = self.years[rng.pick(&self.year_cum)];
        let day_of_year = (rng.next() % 365) as i64;
        let day = chrono::NaiveDate::from_ymd_opt(year, 1, 1).expect("valid year")
            + chrono::Duration::days(day_of_year);
        let ty = &TYPES[rng.pick(&self.type_cum)];
        let sub = ty.2[(rng.next() % ty.2.len() as u64) as usize];
        let fatalities: u32 = match ty.0 {
            "Protests" | "Strategic developments" => 0,
            _ if rng.unit() < 0.01 => 20 + (rng.next() % 130) as u32,
            _ => (-(rng.unit().max(1e-12)).ln() * 3.0) as u32,
        };
        let time_precision = 1 + rng.next() % 3;
        let scale = SOURCE_SCALES[(rng.next() % SOURCE_SCALES.len() as u64) as usize];
        let sides = self.sides(ty.0);
        let town = &self.places[anchor].name;
        let location = if precision == 1 {
            town.clone()
        } else {
            format!("near {town}")
        };
        let date = day.format("%Y-%m-%d").to_string();
        let (region_id, admin1) = self.regions[anchor].clone();
        let (country, iso) = country(&region_id);
        let notes = self.notes(&date, &sides, sub, &location, fatalities);
        let (inter1, inter2, interaction) = sides.interaction();
        let tags = if fatalities > 0 && self.rng.unit() < 0.2 {
            "local source reports"
        } else {
            ""
        };
        let timestamp = 1_600_000_000 + self.rng.next() % 100_000_000;
        [
            format!("SYN{}-{i:07}", self.seed),
            date,
            year.to_string(),
            time_precision.to_string(),
            disorder(ty.0).to_string(),
            ty.0.to_string(),
            sub.to_string(),
            sides.actor1.to_string(),
            sides.assoc1.to_string(),
            inter1.to_string(),
            sides.actor2.to_string(),
            sides.assoc2.to_string(),
            inter2.to_string(),
            interaction.to_string(),
            sides.civilian_targeting().to_string(),
            iso.to_string(),
            "Western Africa".to_string(),
            country.to_string(),
            admin1,
            town.clone(),
            town.clone(),
            location,
            format!("{:.5}", pos.lat),
            format!("{:.5}", pos.lon),
            precision.to_string(),
            self.source.clone(),
            scale.to_string(),
            notes,
            fatalities.to_string(),
            tags.to_string(),
            timestamp.to_string(),
        ]
    }
}

/// Writes `n` synthetic events as ACLED CSV. The output depends only on `n`, `seed` and
/// the atlas's places and regions.
pub fn write_events(atlas: &Atlas, n: u64, seed: u64, out: impl Write) -> csv::Result<()> {
    let mut generator = Generator::new(atlas, seed);
    let mut w = csv::Writer::from_writer(out);
    w.write_record(ACLED_COLUMNS)?;
    for i in 0..n {
        w.write_record(generator.record(i))?;
    }
    w.flush()?;
    Ok(())
}

/// An atlas of the shipped data plus `n` synthetic events, for tests.
#[cfg(test)]
pub fn test_atlas(n: u64, seed: u64) -> Atlas {
    use crate::load::{Dataset, EventSources, load_dataset, load_places, load_regions};
    let data = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("geodata");
    let anchors = Atlas::build(Dataset {
        regions: load_regions(&data.join("regions.geojson")).unwrap(),
        places: load_places(&data.join("places.geojson")).unwrap(),
        ..Dataset::default()
    });
    // Unique per call: tests run in parallel, some with the same `n` and `seed`.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("sahel-test-{}-{call}-{n}-{seed}.csv", std::process::id());
    let file = std::env::temp_dir().join(name);
    write_events(&anchors, n, seed, std::fs::File::create(&file).unwrap()).unwrap();
    let sources = EventSources {
        extra_files: vec![file.clone()],
        skip_shipped: false,
        // As a server keeps them, so that saves copy notes from a spill file.
        notes_dir: Some(std::env::temp_dir()),
    };
    let atlas = Atlas::build(load_dataset(&data, &sources).unwrap());
    std::fs::remove_file(file).unwrap();
    atlas
}

/// [`test_atlas`] after three batches of writes, for tests of the delta: about a tenth
/// of the events deleted, a tenth moved (new place, day, type, fatalities, some with new
/// actors), a tenth added, and some of the added ones replaced or deleted again.
#[cfg(test)]
pub fn test_changed_atlas(n: u64, seed: u64) -> Atlas {
    use crate::model::Change;
    let mut atlas = test_atlas(n, seed);
    let mut rng = Rng(seed ^ 0xDE17A);
    for batch in 0..3 {
        let ids: Vec<u32> = atlas.event_indices().collect();
        let mut changes = Vec::new();
        for &i in &ids {
            let e = atlas.event(i);
            match rng.next() % 30 {
                0 => changes.push(Change::Delete(e.id.clone())),
                1 => changes.push(Change::Upsert(moved(e, &mut rng, None))),
                2 => {
                    let id = format!("W{batch}-{i}");
                    changes.push(Change::Upsert(moved(e, &mut rng, Some(&id))));
                }
                _ => {}
            }
        }
        atlas = atlas.with_changes(&changes);
    }
    atlas
}

/// `e` moved up to ~30 km, to another day and type, under `id` if given.
#[cfg(test)]
fn moved(e: &crate::model::Event, rng: &mut Rng, id: Option<&str>) -> crate::model::Event {
    let mut e = e.clone();
    if let Some(id) = id {
        e.id = id.into();
    }
    e.pos = destination(e.pos, rng.unit() * 360.0, rng.unit() * 30.0);
    e.date = e.date + chrono::Days::new(rng.next() % 900);
    e.event_type = TYPES[(rng.next() % TYPES.len() as u64) as usize].0.into();
    e.fatalities = (rng.next() % 12) as u32;
    if rng.next().is_multiple_of(4) {
        e.actor1 = format!("Written actor {}", rng.next() % 50).into();
    }
    e
}
