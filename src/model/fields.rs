//! The one table of an event's fields: what each is called in the API and in ACLED's
//! exports, its type, and where it goes (features, tiles, downloads, write bodies, the
//! stores). The feature writer, CSV downloads, the write-body schema and the OGC
//! queryables are written from it; the readers, both stores, the saved base and the tile
//! layer are held to it by `http::field_table`'s tests (names, and values that survive
//! each round trip).
//!
//! Adding a field: a row here, the `Event` field it reads, and its storage (the stores'
//! columns and the saved base's format).

use chrono::NaiveDate;

use super::Event;

/// The type of a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// The event's id: text, unique.
    Id,
    /// A calendar day, `YYYY-MM-DD`.
    Date,
    /// The year of the date (ACLED's `year`), derived.
    Year,
    /// Text shared by many events (a vocabulary word).
    Word,
    /// The event's own free text.
    Notes,
    /// A whole number from 0.
    Count,
    /// ACLED's `geo_precision`: 1, 2 or 3, or none.
    Precision,
    /// The ISO id of the region the point lies in: from the atlas, not the event.
    Region,
    /// Degrees north.
    Latitude,
    /// Degrees east.
    Longitude,
}

/// Whether a write body carries the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InBody {
    /// Every event must give it.
    Required,
    /// It may be given.
    Optional,
    /// Not a property of a body (the geometry gives the position; the region is found).
    No,
}

/// A field's value as read from an event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    /// Text.
    Text(&'a str),
    /// A day.
    Date(NaiveDate),
    /// A whole number.
    Uint(u64),
    /// A number.
    Float(f64),
    /// No value.
    Null,
}

impl FieldValue<'_> {
    /// The value as a CSV cell (empty for none), as ACLED's exports write it.
    pub fn to_text(self) -> String {
        match self {
            FieldValue::Text(s) => s.to_string(),
            FieldValue::Date(d) => d.to_string(),
            FieldValue::Uint(n) => n.to_string(),
            FieldValue::Float(x) => x.to_string(),
            FieldValue::Null => String::new(),
        }
    }
}

/// One field of an event.
#[derive(Debug)]
#[allow(
    dead_code,
    reason = "nullable, filterable, in_tiles and stored are what the stores' columns, the \
              queryables and the tile layer are held to (http::field_table's tests)"
)]
pub struct FieldDef {
    /// Its name in features, queries and tiles.
    pub name: &'static str,
    /// Its column in ACLED's exports (and so in CSV downloads, CSV and GeoJSON write
    /// bodies and both stores), if it has one.
    pub acled: Option<&'static str>,
    /// Its type.
    pub ty: FieldType,
    /// Whether it may have no value.
    pub nullable: bool,
    /// Whether OGC API items filter on it by equality (a queryable).
    pub filterable: bool,
    /// Whether an event feature carries it as a property.
    pub in_features: bool,
    /// Whether a single event in the tiles carries it as an attribute.
    pub in_tiles: bool,
    /// Whether a write body carries it.
    pub in_body: InBody,
    /// Whether the stores and the saved base keep it (else it is derived).
    pub stored: bool,
    /// What it holds, for the documents that describe it.
    pub doc: &'static str,
    /// Its value in an event; `None` for a field the atlas derives (the region).
    pub get: Option<fn(&Event) -> FieldValue<'_>>,
}

impl FieldDef {
    /// The column a write body and a CSV export name it by: the ACLED column, else the
    /// field's name.
    pub fn column(&self) -> &'static str {
        self.acled.unwrap_or(self.name)
    }
}

const fn field(name: &'static str, ty: FieldType, doc: &'static str) -> FieldDef {
    FieldDef {
        name,
        acled: Some(name),
        ty,
        nullable: true,
        filterable: false,
        in_features: true,
        in_tiles: false,
        in_body: InBody::Optional,
        stored: true,
        doc,
        get: None,
    }
}

fn text(s: &str) -> FieldValue<'_> {
    FieldValue::Text(s)
}

/// Every field of an event, in the order event features list them; ACLED-only columns
/// (`year`, the coordinates) last.
pub static EVENT_FIELDS: &[FieldDef] = &[
    FieldDef {
        acled: Some("event_id_cnty"),
        nullable: false,
        in_tiles: true,
        in_body: InBody::Required,
        get: Some(|e| text(&e.id)),
        ..field(
            "id",
            FieldType::Id,
            "The event's id (ACLED's event_id_cnty)",
        )
    },
    FieldDef {
        nullable: false,
        in_tiles: true,
        in_body: InBody::Required,
        get: Some(|e| FieldValue::Date(e.date)),
        ..field(
            "event_date",
            FieldType::Date,
            "YYYY-MM-DD (DD-MM-YYYY and 23 March 2019 are read too, as in CSV exports)",
        )
    },
    FieldDef {
        nullable: false,
        filterable: true,
        in_tiles: true,
        in_body: InBody::Required,
        get: Some(|e| text(&e.event_type)),
        ..field(
            "event_type",
            FieldType::Word,
            "ACLED event type, e.g. Battles",
        )
    },
    FieldDef {
        filterable: true,
        in_tiles: true,
        get: Some(|e| text(&e.sub_event_type)),
        ..field("sub_event_type", FieldType::Word, "ACLED sub-event type")
    },
    FieldDef {
        filterable: true,
        in_tiles: true,
        get: Some(|e| text(&e.actor1)),
        ..field("actor1", FieldType::Word, "The first actor")
    },
    FieldDef {
        filterable: true,
        get: Some(|e| text(&e.actor2)),
        ..field("actor2", FieldType::Word, "The second actor")
    },
    FieldDef {
        filterable: true,
        get: Some(|e| text(&e.admin1)),
        ..field(
            "admin1",
            FieldType::Word,
            "First-level division, as the source names it",
        )
    },
    FieldDef {
        filterable: true,
        get: Some(|e| text(&e.admin2)),
        ..field(
            "admin2",
            FieldType::Word,
            "Second-level division, as the source names it",
        )
    },
    FieldDef {
        filterable: true,
        in_tiles: true,
        get: Some(|e| text(&e.location)),
        ..field("location", FieldType::Word, "The place named by the source")
    },
    FieldDef {
        acled: None,
        filterable: true,
        in_body: InBody::No,
        stored: false,
        ..field(
            "region",
            FieldType::Region,
            "ISO id of the region the point lies in (point in polygon)",
        )
    },
    FieldDef {
        nullable: false,
        filterable: true,
        in_tiles: true,
        in_body: InBody::Required,
        get: Some(|e| FieldValue::Uint(e.fatalities.into())),
        ..field("fatalities", FieldType::Count, "Reported fatalities")
    },
    FieldDef {
        filterable: true,
        get: Some(|e| {
            e.geo_precision
                .map_or(FieldValue::Null, |p| FieldValue::Uint(p.into()))
        }),
        ..field(
            "geo_precision",
            FieldType::Precision,
            "ACLED geo_precision: 1, 2 or 3",
        )
    },
    FieldDef {
        get: Some(|e| text(&e.source)),
        ..field(
            "source",
            FieldType::Word,
            "The sources, as ACLED lists them",
        )
    },
    FieldDef {
        get: Some(|e| text(&e.notes)),
        ..field(
            "notes",
            FieldType::Notes,
            "What happened, in the source's words",
        )
    },
    FieldDef {
        nullable: false,
        in_features: false,
        get: Some(|e| FieldValue::Uint(chrono::Datelike::year(&e.date) as u64)),
        ..field("year", FieldType::Year, "The year of event_date, if given")
    },
    FieldDef {
        nullable: false,
        in_features: false,
        in_body: InBody::No,
        get: Some(|e| FieldValue::Float(e.pos.lat)),
        ..field("latitude", FieldType::Latitude, "Degrees north (WGS 84)")
    },
    FieldDef {
        nullable: false,
        in_features: false,
        in_body: InBody::No,
        get: Some(|e| FieldValue::Float(e.pos.lon)),
        ..field("longitude", FieldType::Longitude, "Degrees east (WGS 84)")
    },
];

/// The field whose ACLED column is `column`.
pub fn by_column(column: &str) -> Option<&'static FieldDef> {
    EVENT_FIELDS.iter().find(|f| f.acled == Some(column))
}

/// The names of the fields `keep` selects, in table order.
#[cfg(test)]
pub fn names(keep: impl Fn(&FieldDef) -> bool) -> Vec<&'static str> {
    EVENT_FIELDS
        .iter()
        .filter(|f| keep(f))
        .map(|f| f.name)
        .collect()
}
