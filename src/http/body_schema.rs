//! The JSON schema of a write's GeoJSON body, as the OpenAPI document states it: one
//! Feature of an ACLED event or a FeatureCollection of them. It states what the reader
//! (`load::read_events_geojson`) requires of each value's JSON type and nothing it does
//! not, so that a body the schema refuses is refused (400-class) and one it allows is
//! stored or answered 422 only for rules a schema cannot state: a date that does not exist,
//! coordinates off the globe, `year` disagreeing with `event_date`, an id that is blank.

use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, OneOfBuilder};
use utoipa::openapi::{KnownFormat, ObjectBuilder, RefOr, Schema, SchemaFormat, SchemaType};

/// Text columns: a string or a number (ACLED's API sends numbers as strings, and some
/// exports ids as numbers); null or absent for none.
const TEXT: &[&str] = &[
    "sub_event_type",
    "actor1",
    "actor2",
    "admin1",
    "admin2",
    "location",
    "source",
    "notes",
];

fn typed(t: SchemaType) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(t)
}

/// A string or a number, as the reader takes a text value.
fn text(required: bool, description: &str) -> RefOr<Schema> {
    AnyOfBuilder::new()
        .item(typed(SchemaType::String).min_length(required.then_some(1)))
        .item(typed(SchemaType::Number))
        .nullable(!required)
        .description(Some(description))
        .into()
}

/// A whole number from `min` (or its digits as a string); unless `required`, null or
/// absent for none.
fn count(required: bool, min: f64, max: Option<f64>, description: &str) -> RefOr<Schema> {
    AnyOfBuilder::new()
        .item(typed(SchemaType::Integer).minimum(Some(min)).maximum(max))
        .item(typed(SchemaType::String).pattern(Some("^\\s*[0-9]+\\s*$")))
        .nullable(!required)
        .description(Some(description))
        .into()
}

/// The ACLED properties of one event. Without `id_in_body` (PUT) the id is the path's:
/// the property is left out of the schema (a body may still carry the same id).
fn properties(id_in_body: bool) -> ObjectBuilder {
    let mut p = typed(SchemaType::Object)
        .property(
            "event_date",
            typed(SchemaType::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
                .description(Some(
                    "YYYY-MM-DD (DD-MM-YYYY and 23 March 2019 are read too, as in CSV exports)",
                )),
        )
        .property("event_type", text(true, "ACLED event type, e.g. Battles"))
        .property("fatalities", count(true, 0.0, None, "Reported fatalities"))
        .property(
            "geo_precision",
            count(false, 1.0, Some(3.0), "ACLED geo_precision: 1, 2 or 3"),
        )
        .property(
            "year",
            count(false, 0.0, None, "The year of event_date, if given"),
        )
        .required("event_date")
        .required("event_type")
        .required("fatalities")
        .description(Some(
            "ACLED columns; others are ignored. Values are strings or numbers (or null).",
        ));
    for name in TEXT {
        p = p.property(*name, text(false, "ACLED column"));
    }
    if id_in_body {
        p = p
            .property(
                "event_id_cnty",
                text(true, "The event's id (ACLED's event_id_cnty)"),
            )
            .required("event_id_cnty");
    }
    p
}

fn feature(id_in_body: bool) -> ObjectBuilder {
    let position = ArrayBuilder::new()
        .items(
            typed(SchemaType::Number)
                .minimum(Some(-180.0))
                .maximum(Some(180.0)),
        )
        .min_items(Some(2))
        .description(Some("[longitude, latitude] in degrees (WGS 84)"));
    let point = typed(SchemaType::Object)
        .property(
            "type",
            typed(SchemaType::String).enum_values(Some(["Point"])),
        )
        .property("coordinates", position)
        .required("type")
        .required("coordinates");
    typed(SchemaType::Object)
        .property(
            "type",
            typed(SchemaType::String).enum_values(Some(["Feature"])),
        )
        .property("geometry", point)
        .property("properties", properties(id_in_body))
        .required("type")
        .required("geometry")
        .required("properties")
}

/// POST: a Feature or a FeatureCollection of at least one Feature.
pub fn post_body() -> Schema {
    let collection = typed(SchemaType::Object)
        .property(
            "type",
            typed(SchemaType::String).enum_values(Some(["FeatureCollection"])),
        )
        .property(
            "features",
            ArrayBuilder::new().items(feature(true)).min_items(Some(1)),
        )
        .required("type")
        .required("features");
    OneOfBuilder::new()
        .item(feature(true))
        .item(collection)
        .into()
}

/// PUT: one Feature, its id the path's.
pub fn put_body() -> Schema {
    feature(false).into()
}
