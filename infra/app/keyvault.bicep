// Key Vault for the secrets the app may need (today: the Graph client secret when an app registration is
// used instead of the managed identity). RBAC authorization only; no access policies. Purge protection is
// off so that `azd down --purge` can remove it; soft delete keeps a deleted vault for 7 days otherwise.
param name string
param location string
param tags object

resource vault 'Microsoft.KeyVault/vaults@2024-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
