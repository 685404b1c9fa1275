// The user-assigned managed identity the Function App runs as: storage, Key Vault references, Graph and
// Postgres all see this one principal. User-assigned so that it exists (and can be granted Graph and
// Postgres rights) before the app is deployed, and survives the app being recreated.
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
