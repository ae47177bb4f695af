use super::*;

const EXAMPLE: &str = include_str!("../../../examples/catalog.toml");

fn rejected(toml: &str) -> CatalogError {
    match Catalog::parse(toml) {
        Ok(_) => panic!("accepted:\n{toml}"),
        Err(e) => e,
    }
}

const FEATURES: &str = r#"
default_plan = "free"
[features]
projects = { type = "gauge" }
api_calls = { type = "metered", reset = "month" }
sso = { type = "boolean" }
"#;

#[test]
fn reads_the_example_catalog() {
    let catalog = Catalog::parse(EXAMPLE).unwrap();
    let keys: Vec<_> = catalog.plans().iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["free", "premium", "premium_plus", "team_seats"]);
    assert_eq!(catalog.default_plan().key, "free");
    let premium = catalog.plan("premium").unwrap();
    assert_eq!(premium.grace_days, 7);
    assert_eq!(
        premium.limits["storage"].limit,
        Allowance::Units(crate::Limit::Finite(50_000_000_000))
    );
    assert_eq!(premium.limits["api_calls"].overage, Overage::Bill);
    assert_eq!(
        catalog.feature("api_calls").unwrap().reset,
        Some(Reset::BillingPeriod)
    );
    assert!(
        !catalog
            .plan("free")
            .unwrap()
            .limits
            .contains_key("advanced_analytics")
    );
}

#[test]
fn names_an_unknown_feature_and_its_plan() {
    let e = rejected(&format!(
        "{FEATURES}[plans.free]\nname = \"Free\"\nrank = 0\nlimits = {{ seats = 3 }}\n"
    ));
    assert_eq!(e.code(), "unknown_feature");
    assert!(e.to_string().contains("plans.free.limits.seats"), "{e}");
}

#[test]
fn names_both_plans_of_a_repeated_rank() {
    let e = rejected(&format!(
        "{FEATURES}[plans.free]\nname = \"Free\"\nrank = 0\n[plans.pro]\nname = \"Pro\"\nrank = 0\n"
    ));
    assert_eq!(e.code(), "duplicate_rank");
    assert!(
        e.to_string().contains("`free`") && e.to_string().contains("`pro`"),
        "{e}"
    );
}

#[test]
fn refuses_a_number_for_a_boolean() {
    let e = rejected(&format!(
        "{FEATURES}[plans.free]\nname = \"Free\"\nrank = 0\nlimits = {{ sso = 3 }}\n"
    ));
    assert_eq!(e.code(), "invalid_limit");
    assert!(
        e.to_string().contains("plans.free.limits.sso") && e.to_string().contains("not 3"),
        "{e}"
    );
}

#[test]
fn refuses_sizes_policies_and_defaults_that_do_not_parse() {
    let plan = |limits: &str| {
        format!("{FEATURES}[plans.free]\nname = \"Free\"\nrank = 0\nlimits = {{ {limits} }}\n")
    };
    assert_eq!(
        rejected(&plan("projects = \"10 lots\"")).code(),
        "invalid_size"
    );
    let e = rejected(&plan("api_calls = { limit = 5, overage = \"charge\" }"));
    assert_eq!(e.code(), "invalid_policy");
    assert!(
        e.to_string()
            .contains("plans.free.limits.api_calls.overage"),
        "{e}"
    );
    assert_eq!(
        rejected(&plan("api_calls = { limit = 5, warn_at = 1.5 }")).code(),
        "invalid_limit"
    );
    assert_eq!(rejected(&plan("projects = -1")).code(), "invalid_limit");
    assert_eq!(
        rejected(&FEATURES.replace("default_plan = \"free\"", "")).code(),
        "missing_default_plan"
    );
    assert_eq!(rejected(FEATURES).code(), "unknown_default_plan");
    assert_eq!(
        rejected(&FEATURES.replace("\"month\"", "\"fortnight\"")).code(),
        "invalid_policy"
    );
    assert_eq!(
        rejected(&FEATURES.replace("\"gauge\"", "\"dial\"")).code(),
        "invalid_feature"
    );
    assert_eq!(rejected("default_plan = ").code(), "invalid_toml");
    let typo = rejected(&format!(
        "{FEATURES}[plans.free]\nname = \"Free\"\nrank = 0\ngrace_day = 3\n"
    ));
    assert_eq!(typo.code(), "invalid_toml");
    assert!(typo.to_string().contains("grace_day"), "{typo}");
}

#[test]
fn reads_seats_in_both_forms() {
    let catalog = Catalog::parse(&format!(
        "{FEATURES}[plans.free]\nname = \"Free\"\nrank = 0\n\
         [plans.team]\nname = \"Team\"\nrank = 1\n\
         limits = {{ projects = \"seats\", api_calls = {{ limit = \"seats\", overage = \"bill\" }} }}\n"
    ))
    .unwrap();
    let team = catalog.plan("team").unwrap();
    assert!(team.limits["projects"].seats);
    assert!(team.limits["api_calls"].seats);
    assert_eq!(team.limits["api_calls"].overage, Overage::Bill);
    assert!(team.counts_seats());
    assert!(!catalog.plan("free").unwrap().counts_seats());
}

#[test]
fn reads_exact_features_and_sizes_their_leases() {
    let catalog = Catalog::parse(
        "default_plan = \"free\"\n[features]\n\
         a = { type = \"metered\", exact = true }\n\
         b = { type = \"metered\", exact = true, lease = 3 }\n\
         c = { type = \"metered\" }\n\
         [plans.free]\nname = \"Free\"\nrank = 0\nlimits = { a = 1000, b = 10, c = 5 }\n",
    )
    .unwrap();
    let limit = |n| Some(Allowance::Units(crate::Limit::Finite(n)));
    let a = catalog.feature("a").unwrap();
    assert!(a.exact);
    assert_eq!(a.lease_for(limit(1000)), Some(50));
    assert_eq!(a.lease_for(limit(10)), Some(1));
    assert_eq!(
        a.lease_for(Some(Allowance::Units(crate::Limit::Unlimited))),
        Some(100)
    );
    assert_eq!(
        catalog.feature("b").unwrap().lease_for(limit(1000)),
        Some(3)
    );
    assert_eq!(catalog.feature("c").unwrap().lease_for(limit(1000)), None);
}

#[test]
fn a_product_sells_the_highest_ranked_plan_that_claims_it() {
    let catalog = Catalog::parse(&format!(
        r#"{FEATURES}
[plans.free]
name = "Free"
rank = 0
limits = {{}}

[plans.pro]
name = "Pro"
rank = 1
polar_metadata = {{ tier = "2" }}
limits = {{}}

[plans.pro_yearly]
name = "Pro, yearly"
rank = 2
polar_products = ["prod_yearly"]
polar_metadata = {{ tier = "2", yearly = "true" }}
limits = {{}}
"#
    ))
    .unwrap();
    let product = |id: &str, metadata: serde_json::Value| Product {
        id: id.to_owned(),
        name: None,
        metadata: serde_json::from_value(metadata).unwrap(),
    };
    let sold = |p: &Product| catalog.plan_of_product(p).map(|plan| plan.key.as_str());
    // A number and a boolean match the text the catalog holds.
    assert_eq!(
        sold(&product("prod_m", serde_json::json!({ "tier": 2 }))),
        Some("pro")
    );
    assert_eq!(
        sold(&product(
            "prod_y",
            serde_json::json!({ "tier": 2, "yearly": true })
        )),
        Some("pro_yearly")
    );
    // Listed by id: sold whatever its metadata.
    assert_eq!(
        sold(&product("prod_yearly", serde_json::json!({}))),
        Some("pro_yearly")
    );
    // A pair missing or different: not sold by that plan; the default plan sells nothing.
    assert_eq!(
        sold(&product("prod_x", serde_json::json!({ "tier": "3" }))),
        None
    );
    assert_eq!(sold(&product("prod_z", serde_json::json!({}))), None);
}
