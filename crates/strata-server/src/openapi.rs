//! The OpenAPI 3.0 document served at `/v1/openapi.json`. It is written by
//! hand next to the handlers in `api.rs`; the API tests and schemathesis in
//! CI check that the server does what it says.
use serde_json::{Value, json};

fn error_ref() -> Value {
    json!({"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn ok(schema: &str) -> Value {
    json!({"description": "ok", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

/// Responses of an operation: 200 with `schema`, the listed error statuses, and a default error.
fn responses(schema: &str, errors: &[u16]) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("200".into(), ok(schema));
    for status in errors {
        map.insert(status.to_string(), error_ref());
    }
    map.insert("default".into(), error_ref());
    Value::Object(map)
}

fn path_param(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string"}})
}

fn query_param(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

fn nullable(kind: &str) -> Value {
    json!({"type": kind, "nullable": true})
}

fn economics_properties() -> Value {
    json!({
        "accounts": {"type": "integer", "minimum": 0},
        "share_of_accounts": {"type": "number"},
        "arr": {"type": "number"},
        "share_of_arr": nullable("number"),
        "mrr": {"type": "number"},
        "mrr_12m_ago": {"type": "number"},
        "nrr": nullable("number"),
        "grr": nullable("number"),
        "logo_churn": nullable("number"),
        "paying_12m_ago": {"type": "integer"},
        "churned_accounts": {"type": "integer"},
        "expansion_mrr": {"type": "number"},
        "contraction_mrr": {"type": "number"},
        "churned_mrr": {"type": "number"},
        "new_mrr": {"type": "number"},
        "nps": nullable("number"),
        "nps_answers": {"type": "integer"},
        "promoters": {"type": "integer"},
        "passives": {"type": "integer"},
        "detractors": {"type": "integer"}
    })
}

fn schemas() -> Value {
    let economics_required = json!([
        "accounts",
        "share_of_accounts",
        "arr",
        "mrr",
        "nrr",
        "grr",
        "logo_churn",
        "nps",
        "nps_answers"
    ]);
    let mut segment_properties = economics_properties();
    segment_properties["name"] = json!({"type": "string"});
    segment_properties["rule"] = json!({"type": "string"});
    segment_properties["description"] = json!({"type": "string"});
    segment_properties["quality"] = json!({"type": "object"});
    segment_properties["persona"] = json!({"type": "object"});
    let mut preview_properties = economics_properties();
    preview_properties["rule"] = json!({"type": "string"});
    preview_properties["columns"] = json!({"type": "array", "items": {"type": "string"}});
    preview_properties["sample"] = json!({"type": "array", "items": {"type": "string"}});
    json!({
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "help": {"type": "string"},
                    "position": {
                        "type": "object",
                        "description": "where in the rule text the problem is (byte offsets; 1-based line and column)",
                        "required": ["start", "end", "line", "column"],
                        "properties": {
                            "start": {"type": "integer"}, "end": {"type": "integer"},
                            "line": {"type": "integer"}, "column": {"type": "integer"},
                            "snippet": {"type": "string"}
                        }
                    }
                }
            }}
        },
        "Economics": {"type": "object", "required": economics_required, "properties": economics_properties()},
        "Segment": {"type": "object", "required": ["name", "rule", "accounts", "arr", "quality"], "properties": segment_properties},
        "Segmentation": {
            "type": "object",
            "required": ["name", "kind", "segments", "unassigned", "quality"],
            "properties": {
                "name": {"type": "string"},
                "kind": {"type": "string"},
                "description": {"type": "string"},
                "segments": {"type": "array", "items": {"$ref": "#/components/schemas/Segment"}},
                "unassigned": {"$ref": "#/components/schemas/Economics"},
                "quality": {"type": "object"},
                "clustering": {"type": "object"},
                "drift": {"type": "object"}
            }
        },
        "Segmentations": {
            "type": "object",
            "required": ["as_of", "accounts", "overall", "segmentations", "run_id"],
            "properties": {
                "as_of": {"type": "string", "format": "date"},
                "run_id": nullable("integer"),
                "accounts": {"type": "integer"},
                "events": {"type": "integer"},
                "overall": {"$ref": "#/components/schemas/Economics"},
                "nrr_spread": {"type": "object"},
                "segmentations": {"type": "array", "items": {"$ref": "#/components/schemas/Segmentation"}},
                "warnings": {"type": "array", "items": {"type": "string"}}
            }
        },
        "AccountScores": {
            "type": "object",
            "required": ["account_id", "as_of", "run_id", "scores"],
            "properties": {
                "account_id": {"type": "string"},
                "as_of": {"type": "string", "format": "date"},
                "run_id": nullable("integer"),
                "scores": {
                    "type": "object",
                    "description": "score segmentation name → the account's score, grade and explanation group by group and measure by measure",
                    "additionalProperties": {"type": "object", "required": ["score", "grade", "groups", "explanation"]}
                },
                "risk": {
                    "type": "object",
                    "nullable": true,
                    "description": "the learned risks of a paying account (churn_risk, expansion_likelihood, each with its drivers: feature, value, contribution to the log-odds); null when the project learns none",
                    "additionalProperties": true
                }
            }
        },
        "AccountSegments": {
            "type": "object",
            "required": ["account_id", "as_of", "run_id", "segments"],
            "properties": {
                "account_id": {"type": "string"},
                "as_of": {"type": "string", "format": "date"},
                "run_id": nullable("integer"),
                "segments": {
                    "type": "object",
                    "description": "segmentation name → segment name, null when unassigned",
                    "additionalProperties": nullable("string")
                }
            }
        },
        "Member": {
            "type": "object",
            "required": ["account_id", "arr", "mrr"],
            "properties": {
                "account_id": {"type": "string"},
                "arr": {"type": "number"},
                "mrr": {"type": "number"},
                "name": nullable("string"),
                "plan": nullable("string"),
                "industry": nullable("string"),
                "employees": nullable("number"),
                "country": nullable("string"),
                "owner": nullable("string")
            }
        },
        "Members": {
            "type": "object",
            "required": ["segmentation", "segment", "total", "offset", "limit", "next_offset", "members"],
            "properties": {
                "segmentation": {"type": "string"},
                "segment": {"type": "string"},
                "total": {"type": "integer"},
                "offset": {"type": "integer"},
                "limit": {"type": "integer"},
                "next_offset": nullable("integer"),
                "members": {"type": "array", "items": {"$ref": "#/components/schemas/Member"}}
            }
        },
        "Transition": {
            "type": "object",
            "required": ["run_id", "as_of", "segmentation", "account_id", "from", "to", "cause"],
            "properties": {
                "run_id": {"type": "integer"},
                "seq": {"type": "integer"},
                "as_of": {"type": "string", "format": "date"},
                "segmentation": {"type": "string"},
                "account_id": {"type": "string"},
                "from": nullable("string"),
                "to": nullable("string"),
                "cause": {"type": "string", "enum": ["movement", "redefinition", "entered", "left"]},
                "from_rule": nullable("string"),
                "to_rule": nullable("string"),
                "reason": {"type": "string"},
                "explanation": {}
            }
        },
        "Transitions": {
            "type": "object",
            "required": ["transitions"],
            "properties": {"transitions": {"type": "array", "items": {"$ref": "#/components/schemas/Transition"}}}
        },
        "Run": {
            "type": "object",
            "required": ["id", "kind", "as_of", "status", "accounts"],
            "properties": {
                "id": {"type": "integer"},
                "kind": {"type": "string"},
                "as_of": {"type": "string", "format": "date"},
                "started_at": {"type": "string"},
                "finished_at": {"type": "string"},
                "status": {"type": "string"},
                "versions": {"type": "object", "additionalProperties": {"type": "integer"}},
                "timings": {"type": "object", "additionalProperties": {"type": "number"}},
                "accounts": {"type": "integer"},
                "transitions": {"type": "integer"},
                "redefinitions": {"type": "integer"},
                "error": nullable("string")
            }
        },
        "Runs": {
            "type": "object",
            "required": ["served_run_id", "running", "runs"],
            "properties": {
                "served_run_id": nullable("integer"),
                "running": {"type": "boolean"},
                "runs": {"type": "array", "items": {"$ref": "#/components/schemas/Run"}}
            }
        },
        "RunSummary": {
            "type": "object",
            "required": ["run_id", "status", "as_of", "accounts", "transitions", "seconds"],
            "properties": {
                "run_id": nullable("integer"),
                "status": {"type": "string", "enum": ["committed", "unchanged", "not_recorded"]},
                "as_of": {"type": "string", "format": "date"},
                "accounts": {"type": "integer"},
                "transitions": {"type": "integer"},
                "seconds": {"type": "number"}
            }
        },
        "RunRequest": {
            "type": "object",
            "additionalProperties": false,
            "properties": {"as_of": {"type": "string", "format": "date", "description": "overrides the project's as_of"}}
        },
        "Icp": {
            "type": "object",
            "required": ["as_of", "days", "sql"],
            "properties": {
                "as_of": {"type": "string"},
                "days": {"type": "integer"},
                "sql": {"type": "array", "items": {"type": "string"}}
            }
        },
        "Definitions": {
            "type": "object",
            "required": ["versions"],
            "properties": {"versions": {"type": "array", "items": {
                "type": "object",
                "required": ["id", "segmentation", "seq", "hash", "created_at", "definition"],
                "properties": {
                    "id": {"type": "integer"},
                    "segmentation": {"type": "string"},
                    "seq": {"type": "integer"},
                    "hash": {"type": "string"},
                    "created_at": {"type": "string"},
                    "definition": {}
                }
            }}}
        },
        "PreviewRequest": {
            "type": "object",
            "required": ["rule"],
            "properties": {"rule": {"type": "string", "maxLength": 10000, "example": "events_28d > 100 AND plan = 'Pro'"}}
        },
        "Preview": {"type": "object", "required": ["rule", "columns", "accounts", "arr", "sample"], "properties": preview_properties},
        "Health": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}, "uptime_seconds": {"type": "integer"}}},
        "Ready": {
            "type": "object",
            "required": ["status", "running"],
            "properties": {
                "status": {"type": "string", "enum": ["ready", "starting", "failed"]},
                "run_id": nullable("integer"),
                "as_of": {"type": "string"},
                "accounts": {"type": "integer"},
                "running": {"type": "boolean"},
                "error": nullable("string")
            }
        }
    })
}

/// The whole document.
pub fn document() -> Value {
    let segmentation = path_param("segmentation", "segmentation name, e.g. size");
    let segment = path_param("segment", "segment name, e.g. SMB");
    let limit = |default: u32, max: u32| {
        query_param(
            "limit",
            "page size",
            json!({"type": "integer", "minimum": 1, "maximum": max, "default": default}),
        )
    };
    let mut members_200 = ok("Members");
    members_200["content"]["text/csv"] = json!({"schema": {"type": "string"}});
    members_200["description"] =
        json!("a page of members (JSON), or every matching member (format=csv)");
    let mut members_responses = responses("Members", &[400, 401, 404, 503]);
    members_responses["200"] = members_200;
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "strata API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Segment memberships and economics of the latest run, served by `strata serve`. \
                Send `Authorization: Bearer <token>` when the server has tokens; without tokens it listens on loopback only."
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas()
        },
        "paths": {
            "/healthz": {"get": {
                "operationId": "health", "summary": "The process is up", "security": [],
                "responses": {"200": ok("Health")}
            }},
            "/readyz": {"get": {
                "operationId": "ready", "summary": "200 once a run is served, 503 before", "security": [],
                "responses": {"200": ok("Ready"), "503": {"description": "not ready", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ready"}}}}}
            }},
            "/v1/segmentations": {"get": {
                "operationId": "listSegmentations",
                "summary": "Every segmentation with its segments, economics and quality (segments.json of the served run)",
                "responses": responses("Segmentations", &[401, 503])
            }},
            "/v1/segmentations/{segmentation}": {"get": {
                "operationId": "getSegmentation", "summary": "One segmentation",
                "parameters": [segmentation.clone()],
                "responses": responses("Segmentation", &[401, 404, 503])
            }},
            "/v1/segmentations/{segmentation}/segments/{segment}": {"get": {
                "operationId": "getSegment", "summary": "One segment: economics, quality, persona",
                "parameters": [segmentation.clone(), segment.clone()],
                "responses": responses("Segment", &[401, 404, 503])
            }},
            "/v1/segmentations/{segmentation}/segments/{segment}/members": {"get": {
                "operationId": "listMembers",
                "summary": "Members of a segment, paginated; filter by id substring (q) or by a rule (filter); format=csv downloads all matching members",
                "parameters": [
                    segmentation, segment, limit(100, 10_000),
                    query_param("offset", "rows to skip", json!({"type": "integer", "minimum": 0, "default": 0})),
                    query_param("q", "account id contains (case-insensitive)", json!({"type": "string"})),
                    query_param("filter", "a rule the members must also match, e.g. arr > 10000", json!({"type": "string"})),
                    query_param("format", "json (default) or csv", json!({"type": "string", "enum": ["json", "csv"]}))
                ],
                "responses": members_responses
            }},
            "/v1/accounts/{account}/segments": {"get": {
                "operationId": "getAccountSegments",
                "summary": "An account's segment in every segmentation (in-memory index, rebuilt atomically after each run)",
                "parameters": [path_param("account", "account id")],
                "responses": responses("AccountSegments", &[401, 404, 503])
            }},
            "/v1/accounts/{account}/scores": {"get": {
                "operationId": "getAccountScores",
                "summary": "An account's score in every score segmentation, explained measure by measure, and its learned churn and expansion risks with their drivers",
                "parameters": [path_param("account", "account id")],
                "responses": responses("AccountScores", &[401, 404, 503])
            }},
            "/v1/transitions": {"get": {
                "operationId": "listTransitions", "summary": "Who moved between segments, newest first",
                "parameters": [
                    query_param("since", "runs with as_of on or after this date (YYYY-MM-DD or RFC 3339)", json!({"type": "string"})),
                    query_param("segmentation", "only this segmentation", json!({"type": "string"})),
                    query_param("account", "only this account", json!({"type": "string"})),
                    query_param("redefinitions", "include changes caused by editing a definition", json!({"type": "boolean", "default": false})),
                    limit(100, 10_000)
                ],
                "responses": responses("Transitions", &[400, 401, 404, 503])
            }},
            "/v1/runs": {
                "get": {
                    "operationId": "listRuns", "summary": "Recorded runs, newest first",
                    "parameters": [limit(20, 1000)],
                    "responses": responses("Runs", &[400, 401, 404, 503])
                },
                "post": {
                    "operationId": "triggerRun", "summary": "Run the pipeline now and serve its result (admin scope)",
                    "requestBody": {"required": false, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunRequest"}}}},
                    "responses": responses("RunSummary", &[400, 401, 403, 409, 422, 503])
                }
            },
            "/v1/icp": {"get": {
                "operationId": "getIcp", "summary": "The ideal customer profile as rules, each also as SQL",
                "responses": responses("Icp", &[401, 422, 503])
            }},
            "/v1/definitions": {"get": {
                "operationId": "listDefinitions", "summary": "Every version of every segmentation's definition",
                "responses": responses("Definitions", &[401, 404, 503])
            }},
            "/v1/rules/preview": {"post": {
                "operationId": "previewRule",
                "summary": "How many accounts a rule matches and their economics; nothing is saved. A bad rule is a 400 with its position.",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PreviewRequest"}}}},
                "responses": responses("Preview", &[400, 401, 503])
            }}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_resolves() {
        let document = document();
        let text = document.to_string();
        let schemas = &document["components"]["schemas"];
        for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap_or_default();
            assert!(schemas.get(name).is_some(), "missing schema {name}");
        }
    }
}
