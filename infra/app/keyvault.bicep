// Key Vault for the secrets the app may need (today: the Graph client secret when an app registration is
// used instead of the managed identity). RBAC authorization only; no access policies.
// The name is unique per azd environment (kv-<uniqueString(subscription, env, location)>). Soft delete is
// always on (7 days here); a vault deleted by `azd down` without `--purge` keeps its name for those days,
// and creating one with the same name fails. scripts/recover-key-vault.sh (preprovision) therefore recovers
// such a vault, with its secrets, before provisioning. Purge protection stays off: once on it can never be
// turned off and `azd down --purge` could no longer free the name
// (https://learn.microsoft.com/azure/key-vault/general/soft-delete-overview).
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
