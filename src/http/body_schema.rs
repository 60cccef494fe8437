//! The JSON schema of a write's GeoJSON body, as the OpenAPI document states it: one
//! Feature of an ACLED event or a FeatureCollection of them. It states what the reader
//! (`load::read_events_geojson`) requires of each value's JSON type and nothing it does
//! not, so that a body the schema refuses is refused (400-class) and one it allows is
//! stored or answered 422 only for rules a schema cannot state: a date that does not exist,
//! coordinates off the globe, `year` disagreeing with `event_date`, an id that is blank.

use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, OneOfBuilder};
use utoipa::openapi::{KnownFormat, ObjectBuilder, RefOr, Schema, SchemaFormat, SchemaType};

use crate::model::fields::{EVENT_FIELDS, FieldDef, FieldType, InBody};

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

/// A property's schema, by the type of its field.
fn property(f: &FieldDef) -> RefOr<Schema> {
    let required = f.in_body == InBody::Required;
    match f.ty {
        FieldType::Date => typed(SchemaType::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
            .description(Some(f.doc))
            .into(),
        FieldType::Count => count(required, 0.0, None, f.doc),
        FieldType::Year => count(required, 0.0, None, f.doc),
        FieldType::Precision => count(required, 1.0, Some(3.0), f.doc),
        _ => text(required, f.doc),
    }
}

/// The ACLED properties of one event, from the field table. Without `id_in_body` (PUT)
/// the id is the path's: the property is left out of the schema (a body may still carry
/// the same id).
fn properties(id_in_body: bool) -> ObjectBuilder {
    let mut p = typed(SchemaType::Object).description(Some(
        "ACLED columns; others are ignored. Values are strings or numbers (or null).",
    ));
    let in_body = EVENT_FIELDS.iter().filter(|f| f.in_body != InBody::No);
    for f in in_body.filter(|f| id_in_body || f.ty != FieldType::Id) {
        p = p.property(f.column(), property(f));
        if f.in_body == InBody::Required {
            p = p.required(f.column());
        }
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
