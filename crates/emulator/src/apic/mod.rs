//! Microsoft.ApiCenter services, workspaces, APIs, versions, definitions, environments,
//! deployments and metadata schemas, as the 2024-03-01 REST specification describes them.
