use axum::extract::{Query, State};
use ferry_protocol::{FieldType, SchemaResponse};
use serde::Deserialize;

use super::Json;
use crate::AppState;
use crate::auth::Authenticated;
use crate::error::ApiResult;

/// Field types beyond the first eight that the client understands.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SchemaQuery {
    /// Comma-separated: `file`. A field of a type the client does not name
    /// is left out, so older clients never meet a type they cannot read.
    #[serde(default)]
    types: Option<String>,
}

impl SchemaQuery {
    fn understands(&self, t: FieldType) -> bool {
        let name = match t {
            FieldType::File => "file",
            _ => return true,
        };
        self.types
            .as_deref()
            .is_some_and(|list| list.split(',').any(|n| n.trim() == name))
    }
}

/// The collections the user may read, with the access they have; for a
/// partitioned collection whose rows are limited for them, `rows` names the
/// values they may read and write.
#[utoipa::path(get, path = "/v1/schema", tag = "sync", security(("bearer" = [])),
    params(SchemaQuery),
    responses(
        (status = 200, body = SchemaResponse),
        (status = 401, description = "Missing or invalid token", body = ferry_protocol::ErrorResponse),
    ))]
pub async fn schema(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<SchemaQuery>,
) -> ApiResult<SchemaResponse> {
    let defs = state.store.collections().await?;
    let view = crate::rules::View::new(
        &auth.session.username,
        &state.store.rules_for(auth.session.user_id).await?,
        &defs,
    );
    let collections = defs
        .into_iter()
        .filter_map(|def| {
            let cv = view.get(&def.name)?;
            let rows = cv.rows();
            let mut c = def.into_collection(cv.access());
            c.rows = rows;
            c.fields.retain(|f| query.understands(f.field_type));
            Some(c)
        })
        .collect();
    Ok(Json(SchemaResponse { collections }))
}
