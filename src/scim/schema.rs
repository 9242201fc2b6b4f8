//! The schema registry: ONE description of the SCIM schemas (RFC 7643 sections 4 and 8.7)
//! that drives validation, filters, PATCH, projection and the discovery endpoints.

use serde_json::{Value, json};

/// URN of the core User schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// URN of the Enterprise User extension.
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// URN of the core Group schema.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// The data type of an attribute (RFC 7643 section 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

/// When a client may write an attribute (RFC 7643 section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// When an attribute appears in responses (RFC 7643 section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

/// How unique values of an attribute must be (RFC 7643 section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

/// One attribute definition, possibly with sub-attributes.
#[derive(Debug, Clone)]
pub struct AttributeDef {
    /// Canonical name, as spelled in the schema (lookups ignore case).
    pub name: &'static str,
    /// Data type.
    pub ty: AttrType,
    /// Whether the attribute holds an array of values.
    pub multi_valued: bool,
    /// Whether a resource must carry it.
    pub required: bool,
    /// Whether string comparison is case-sensitive.
    pub case_exact: bool,
    /// Who may write it.
    pub mutability: Mutability,
    /// When it is returned.
    pub returned: Returned,
    /// Uniqueness scope.
    pub uniqueness: Uniqueness,
    /// Suggested values (advertised, not enforced).
    pub canonical_values: &'static [&'static str],
    /// For references: what they point at.
    pub reference_types: &'static [&'static str],
    /// For complex attributes: the sub-attributes.
    pub sub_attributes: Vec<AttributeDef>,
    /// Human description for `/Schemas`.
    pub description: &'static str,
}

impl AttributeDef {
    fn new(name: &'static str, ty: AttrType, description: &'static str) -> Self {
        AttributeDef {
            name,
            ty,
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: Vec::new(),
            description,
        }
    }
    fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    fn required(mut self) -> Self {
        self.required = true;
        self
    }
    fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    fn unique(mut self) -> Self {
        self.uniqueness = Uniqueness::Server;
        self
    }
    fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }
    fn refs(mut self, types: &'static [&'static str]) -> Self {
        self.reference_types = types;
        self
    }
    fn subs(mut self, subs: Vec<AttributeDef>) -> Self {
        self.sub_attributes = subs;
        self
    }

    /// The sub-attribute called `name` (case-insensitive).
    pub fn sub(&self, name: &str) -> Option<&AttributeDef> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The attribute as it appears in `/Schemas`.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "name": self.name,
            "type": self.ty.as_str(),
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": match self.mutability {
                Mutability::ReadOnly => "readOnly",
                Mutability::ReadWrite => "readWrite",
                Mutability::Immutable => "immutable",
                Mutability::WriteOnly => "writeOnly",
            },
            "returned": match self.returned {
                Returned::Always => "always",
                Returned::Never => "never",
                Returned::Default => "default",
                Returned::Request => "request",
            },
            "uniqueness": match self.uniqueness {
                Uniqueness::None => "none",
                Uniqueness::Server => "server",
                Uniqueness::Global => "global",
            },
        });
        if !self.canonical_values.is_empty() {
            v["canonicalValues"] = json!(self.canonical_values);
        }
        if !self.reference_types.is_empty() {
            v["referenceTypes"] = json!(self.reference_types);
        }
        if !self.sub_attributes.is_empty() {
            v["subAttributes"] =
                Value::Array(self.sub_attributes.iter().map(|a| a.to_json()).collect());
        }
        v
    }
}

/// One schema: a URN and its attributes.
#[derive(Debug, Clone)]
pub struct SchemaDef {
    /// The schema URN.
    pub id: &'static str,
    /// Short name.
    pub name: &'static str,
    /// Human description.
    pub description: &'static str,
    /// Top-level attributes.
    pub attributes: Vec<AttributeDef>,
}

impl SchemaDef {
    /// The attribute called `name` (case-insensitive).
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// The schema resource as served by `/Schemas/{id}`, without `meta.location`'s base.
    pub fn to_json(&self, base_url: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(|a| a.to_json()).collect::<Vec<_>>(),
            "meta": {
                "resourceType": "Schema",
                "location": format!("{base_url}/Schemas/{}", self.id),
            }
        })
    }
}

/// The two resource types scimd serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    /// `User` or `Group`, as in `meta.resourceType`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    /// The endpoint path, `/Users` or `/Groups`.
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "/Users",
            ResourceKind::Group => "/Groups",
        }
    }

    /// The core schema URN.
    pub fn core_schema(self) -> &'static str {
        match self {
            ResourceKind::User => USER_SCHEMA,
            ResourceKind::Group => GROUP_SCHEMA,
        }
    }

    /// Parses `User`/`Group` (as stored).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "User" => Some(ResourceKind::User),
            "Group" => Some(ResourceKind::Group),
            _ => None,
        }
    }
}

/// Where an attribute path landed in the registry.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    /// The schema URN the attribute belongs to; `None` for the common attributes
    /// (`id`, `externalId`, `meta`), which live at the top level of every resource.
    pub schema: Option<&'static str>,
    /// Whether `schema` is an extension (its attributes nest under the URN key).
    pub extension: bool,
    /// The top-level attribute.
    pub attr: &'a AttributeDef,
    /// The sub-attribute, when the path named one.
    pub sub: Option<&'a AttributeDef>,
}

impl Resolved<'_> {
    /// The attribute the path points at: the sub-attribute if any, else the attribute.
    pub fn leaf(&self) -> &AttributeDef {
        self.sub.unwrap_or(self.attr)
    }
}

/// All schemas and resource types: built once, shared read-only.
#[derive(Debug)]
pub struct Registry {
    user: SchemaDef,
    enterprise: SchemaDef,
    group: SchemaDef,
    common: Vec<AttributeDef>,
}

/// The process-wide registry (the schemas are fixed at build time).
pub fn registry() -> &'static Registry {
    static REGISTRY: std::sync::LazyLock<Registry> = std::sync::LazyLock::new(Registry::new);
    &REGISTRY
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// The registry of RFC 7643's User, Enterprise User and Group schemas.
    pub fn new() -> Self {
        Registry {
            user: user_schema(),
            enterprise: enterprise_schema(),
            group: group_schema(),
            common: common_attributes(),
        }
    }

    /// Every schema, in discovery order.
    pub fn schemas(&self) -> [&SchemaDef; 3] {
        [&self.user, &self.enterprise, &self.group]
    }

    /// The schema with this URN (case-insensitive).
    pub fn schema(&self, urn: &str) -> Option<&SchemaDef> {
        self.schemas()
            .into_iter()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// The core schema of a resource kind.
    pub fn core(&self, kind: ResourceKind) -> &SchemaDef {
        match kind {
            ResourceKind::User => &self.user,
            ResourceKind::Group => &self.group,
        }
    }

    /// The extension schemas a resource kind allows.
    pub fn extensions(&self, kind: ResourceKind) -> &[SchemaDef] {
        match kind {
            ResourceKind::User => std::slice::from_ref(&self.enterprise),
            ResourceKind::Group => &[],
        }
    }

    /// The common attributes (`id`, `externalId`, `meta`).
    pub fn common(&self) -> &[AttributeDef] {
        &self.common
    }

    /// Resolves `[urn:]name[.sub]` for a resource kind; names are case-insensitive.
    /// A URN prefix selects the core schema or an extension; without one, the common
    /// attributes and then the core schema are searched.
    pub fn resolve(
        &self,
        kind: ResourceKind,
        urn: Option<&str>,
        name: &str,
        sub: Option<&str>,
    ) -> Option<Resolved<'_>> {
        let (schema, extension, attr) = match urn {
            Some(urn) => {
                let core = self.core(kind);
                if core.id.eq_ignore_ascii_case(urn) {
                    (
                        Some(core.id),
                        false,
                        core.attribute(name).or_else(|| self.common_attr(name))?,
                    )
                } else {
                    let ext = self
                        .extensions(kind)
                        .iter()
                        .find(|s| s.id.eq_ignore_ascii_case(urn))?;
                    (Some(ext.id), true, ext.attribute(name)?)
                }
            }
            None => match self.common_attr(name) {
                Some(a) => (None, false, a),
                None => {
                    let core = self.core(kind);
                    (Some(core.id), false, core.attribute(name)?)
                }
            },
        };
        let sub = match sub {
            Some(s) => Some(attr.sub(s)?),
            None => None,
        };
        Some(Resolved {
            schema,
            extension,
            attr,
            sub,
        })
    }

    fn common_attr(&self, name: &str) -> Option<&AttributeDef> {
        self.common
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

use AttrType::{Binary, Boolean, Complex, DateTime, Reference, String as Str};
use Mutability::{Immutable, ReadOnly, WriteOnly};

fn s(name: &'static str, d: &'static str) -> AttributeDef {
    AttributeDef::new(name, Str, d)
}

fn typed_value_list(
    name: &'static str,
    d: &'static str,
    types: &'static [&'static str],
) -> AttributeDef {
    AttributeDef::new(name, Complex, d).multi().subs(vec![
        s("value", "The value."),
        s(
            "display",
            "A human-readable name, primarily used for display purposes.",
        ),
        s("type", "A label indicating the attribute's function.").canonical(types),
        AttributeDef::new("primary", Boolean, "Whether this is the preferred value."),
    ])
}

fn common_attributes() -> Vec<AttributeDef> {
    vec![
        s(
            "id",
            "Unique identifier of the resource, issued by the service provider.",
        )
        .case_exact()
        .mutability(ReadOnly)
        .returned(Returned::Always)
        .unique(),
        s(
            "externalId",
            "Identifier of the resource as defined by the provisioning client.",
        )
        .case_exact(),
        AttributeDef::new("meta", Complex, "Resource metadata.")
            .mutability(ReadOnly)
            .subs(vec![
                s("resourceType", "The name of the resource type.")
                    .case_exact()
                    .mutability(ReadOnly),
                AttributeDef::new("created", DateTime, "When the resource was added.")
                    .mutability(ReadOnly),
                AttributeDef::new(
                    "lastModified",
                    DateTime,
                    "When the resource was last changed.",
                )
                .mutability(ReadOnly),
                AttributeDef::new("location", Reference, "The URI of the resource.")
                    .case_exact()
                    .mutability(ReadOnly)
                    .refs(&["uri"]),
                s("version", "The version (weak ETag) of the resource.")
                    .case_exact()
                    .mutability(ReadOnly),
            ]),
    ]
}

fn user_schema() -> SchemaDef {
    SchemaDef {
        id: USER_SCHEMA,
        name: "User",
        description: "User Account",
        attributes: vec![
            s(
                "userName",
                "Unique identifier for the User, used to authenticate.",
            )
            .required()
            .unique(),
            AttributeDef::new("name", Complex, "The components of the user's real name.").subs(
                vec![
                    s("formatted", "The full name, formatted for display."),
                    s("familyName", "The family name."),
                    s("givenName", "The given name."),
                    s("middleName", "The middle name(s)."),
                    s("honorificPrefix", "The honorific prefix(es)."),
                    s("honorificSuffix", "The honorific suffix(es)."),
                ],
            ),
            s(
                "displayName",
                "The name of the User, suitable for display to end-users.",
            ),
            s("nickName", "The casual way to address the user."),
            AttributeDef::new(
                "profileUrl",
                Reference,
                "A URI to the User's online profile.",
            )
            .refs(&["external"]),
            s("title", "The user's title, such as \"Vice President\"."),
            s(
                "userType",
                "The relationship between the organization and the user.",
            ),
            s(
                "preferredLanguage",
                "The User's preferred written or spoken language.",
            ),
            s("locale", "The User's default location for localization."),
            s("timezone", "The User's time zone in IANA format."),
            AttributeDef::new("active", Boolean, "The User's administrative status."),
            s(
                "password",
                "The User's cleartext password; write-only, never returned.",
            )
            .mutability(WriteOnly)
            .returned(Returned::Never),
            typed_value_list(
                "emails",
                "Email addresses for the user.",
                &["work", "home", "other"],
            ),
            typed_value_list(
                "phoneNumbers",
                "Phone numbers for the User.",
                &["work", "home", "mobile", "fax", "pager", "other"],
            ),
            typed_value_list(
                "ims",
                "Instant messaging addresses for the User.",
                &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
            ),
            AttributeDef::new("photos", Complex, "URLs of photos of the User.")
                .multi()
                .subs(vec![
                    AttributeDef::new("value", Reference, "URL of a photo of the User.")
                        .refs(&["external"]),
                    s(
                        "display",
                        "A human-readable name, primarily used for display purposes.",
                    ),
                    s("type", "A label indicating the attribute's function.")
                        .canonical(&["photo", "thumbnail"]),
                    AttributeDef::new("primary", Boolean, "Whether this is the preferred photo."),
                ]),
            AttributeDef::new(
                "addresses",
                Complex,
                "A physical mailing address for this User.",
            )
            .multi()
            .subs(vec![
                s(
                    "formatted",
                    "The full mailing address, formatted for display.",
                ),
                s("streetAddress", "The full street address component."),
                s("locality", "The city or locality component."),
                s("region", "The state or region component."),
                s("postalCode", "The zip code or postal code component."),
                s("country", "The country name component."),
                s("type", "A label indicating the attribute's function.")
                    .canonical(&["work", "home", "other"]),
                AttributeDef::new("primary", Boolean, "Whether this is the preferred address."),
            ]),
            AttributeDef::new(
                "groups",
                Complex,
                "The groups the user belongs to, computed by the service provider.",
            )
            .multi()
            .mutability(ReadOnly)
            .subs(vec![
                s("value", "The identifier of the User's group.").mutability(ReadOnly),
                AttributeDef::new("$ref", Reference, "The URI of the group.")
                    .mutability(ReadOnly)
                    .refs(&["User", "Group"]),
                s("display", "The group's displayName.").mutability(ReadOnly),
                s("type", "direct or indirect membership.")
                    .mutability(ReadOnly)
                    .canonical(&["direct", "indirect"]),
            ]),
            typed_value_list("entitlements", "A list of entitlements for the User.", &[]),
            typed_value_list("roles", "A list of roles for the User.", &[]),
            AttributeDef::new(
                "x509Certificates",
                Complex,
                "A list of certificates issued to the User.",
            )
            .multi()
            .subs(vec![
                AttributeDef::new("value", Binary, "The value of an X.509 certificate.")
                    .case_exact(),
                s(
                    "display",
                    "A human-readable name, primarily used for display purposes.",
                ),
                s("type", "A label indicating the attribute's function."),
                AttributeDef::new(
                    "primary",
                    Boolean,
                    "Whether this is the preferred certificate.",
                ),
            ]),
        ],
    }
}

fn enterprise_schema() -> SchemaDef {
    SchemaDef {
        id: ENTERPRISE_USER_SCHEMA,
        name: "EnterpriseUser",
        description: "Enterprise User",
        attributes: vec![
            s(
                "employeeNumber",
                "Numeric or alphanumeric identifier assigned to a person.",
            ),
            s("costCenter", "Identifies the name of a cost center."),
            s("organization", "Identifies the name of an organization."),
            s("division", "Identifies the name of a division."),
            s("department", "Identifies the name of a department."),
            AttributeDef::new("manager", Complex, "The User's manager.").subs(vec![
                s(
                    "value",
                    "The id of the SCIM resource representing the User's manager.",
                ),
                AttributeDef::new("$ref", Reference, "The URI of the manager's User resource.")
                    .refs(&["User"]),
                s("displayName", "The displayName of the User's manager.").mutability(ReadOnly),
            ]),
        ],
    }
}

fn group_schema() -> SchemaDef {
    SchemaDef {
        id: GROUP_SCHEMA,
        name: "Group",
        description: "Group",
        attributes: vec![
            s(
                "displayName",
                "A human-readable name for the Group; unique per account provider.",
            )
            .required()
            .unique(),
            AttributeDef::new("members", Complex, "A list of members of the Group.")
                .multi()
                .subs(vec![
                    s("value", "Identifier of the member of this Group.")
                        .case_exact()
                        .mutability(Immutable),
                    AttributeDef::new("$ref", Reference, "The URI of the member resource.")
                        .mutability(Immutable)
                        .refs(&["User", "Group"]),
                    s("type", "The type of the member: User or Group.")
                        .mutability(Immutable)
                        .canonical(&["User", "Group"]),
                    s(
                        "display",
                        "The member's display name, computed by the service provider; \
                         returned when requested (attributes=members.display).",
                    )
                    .mutability(ReadOnly)
                    .returned(Returned::Request),
                ]),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_case_insensitively_across_schemas() {
        let r = Registry::new();
        let a = r
            .resolve(ResourceKind::User, None, "USERNAME", None)
            .unwrap();
        assert_eq!(a.attr.name, "userName");
        assert_eq!(a.schema, Some(USER_SCHEMA));
        let e = r
            .resolve(
                ResourceKind::User,
                Some(ENTERPRISE_USER_SCHEMA),
                "employeenumber",
                None,
            )
            .unwrap();
        assert!(e.extension);
        assert_eq!(e.attr.name, "employeeNumber");
        let m = r
            .resolve(ResourceKind::User, None, "meta", Some("LASTMODIFIED"))
            .unwrap();
        assert_eq!(m.leaf().ty, AttrType::DateTime);
        assert!(
            r.resolve(
                ResourceKind::Group,
                Some(ENTERPRISE_USER_SCHEMA),
                "employeeNumber",
                None
            )
            .is_none()
        );
        assert!(
            r.resolve(ResourceKind::User, None, "emails", Some("nope"))
                .is_none()
        );
    }
}
