// ArcoreSyncBridge on Azure: `azd up` provisions this (subscription scope, it creates the resource group),
// runs scripts/postprovision.sh, then deploys the app. See docs/deploy.md.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; with the subscription and location it seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource; it must offer Flex Consumption (az functionapp list-flexconsumption-locations).')
param location string

@description('Resource group name; empty: rg-<environmentName>.')
param resourceGroupName string = ''

@description('Object id of the deployer (azd passes AZURE_PRINCIPAL_ID): Postgres Entra administrator and Key Vault secrets officer.')
param principalId string = deployer().objectId

@description('The deployer as Postgres names it: UPN for a user, display name for a group or service principal. Empty: the deploying user\'s UPN.')
param principalName string = ''

@allowed(['User', 'Group', 'ServicePrincipal'])
param principalType string = 'User'

@allowed(['14', '15', '16', '17', '18'])
param postgresVersion string = '17'

param postgresSkuName string = 'Standard_B1ms'

@allowed(['Burstable', 'GeneralPurpose', 'MemoryOptimized'])
param postgresSkuTier string = 'Burstable'

@description('Premium SSD sizes of Flexible Server: 32 GiB to 32 TiB.')
@minValue(32)
@maxValue(32767)
param postgresStorageSizeGB int = 32

@description('Also accept password logins on the server (Entra only by default).')
param postgresPasswordAuth bool = false

param postgresAdministratorLogin string = 'arcoreadmin'

@secure()
@description('Only used when postgresPasswordAuth is true; never written to app settings.')
param postgresAdministratorPassword string = ''

@description('Let Azure services through the Postgres firewall (the Flex Consumption app has no fixed outbound IP).')
param postgresAllowAzureServices bool = true

@description('More client addresses for the Postgres firewall: comma-separated IPs or start-end ranges, e.g. "203.0.113.7,198.51.100.0-198.51.100.255".')
param postgresAllowedIpRanges string = ''

param postgresDatabaseName string = 'arcore'

@description('Postgres role the app logs in as; scripts/postprovision.sh maps it to the app identity\'s object id.')
param postgresAppRoleName string = 'arcore_app'

@description('max_replication_slots; max_wal_senders becomes this + 2 (documented range 5-100), hence 4-98.')
@minValue(4)
@maxValue(98)
param postgresReplicationSlots int = 10

@description('PostgreSQL 18 only: hours a replication slot may go unread before the server invalidates it and frees its WAL (0: never). max_slot_wal_keep_size cannot be set on the flexible server.')
@minValue(0)
@maxValue(596523)
param postgresSlotIdleTimeoutHours int = 168

@description('default: the managed identity calls Graph. clientSecret: an app registration whose secret lives in Key Vault.')
@allowed(['default', 'clientSecret'])
param graphAuthMode string = 'default'

@description('Client id of the app registration (clientSecret mode only).')
param graphAppClientId string = ''

@description('SharePoint resource units per minute the app paces itself under (the per-app limit is 1,250 to 6,250 by tenant size).')
@minValue(1)
@maxValue(6250)
param graphRuPerMinute int = 1250

@description('SharePoint resource units per 24 hours the app paces itself under (the per-app limit is 1,200,000 to 6,000,000 by tenant size: 960 times the minute\'s in every tier). 0: 960 × graphRuPerMinute.')
@minValue(0)
@maxValue(6000000)
param graphRuPerDay int = 0

@minValue(1)
@maxValue(32)
param graphMaxConcurrency int = 4

@description('NCRONTAB (seconds first) of the push fan-out timer. Every minute: a definition is pushed on the ticks its own schedule falls in (LSN definitions default to every minute).')
param pushSchedule string = '0 * * * * *'

@description('NCRONTAB of the safety pull that catches missed change notifications.')
param pullSafetySchedule string = '0 0 * * * *'

@description('NCRONTAB of the Graph subscription renewal timer.')
param subscriptionSchedule string = '0 */30 * * * *'

@description('entra: the ops API requires a Microsoft Entra token with the Ops.Read/Ops.Write app role (App Service Authentication). key: the master key (fallback). See docs/security.md.')
@allowed(['entra', 'key'])
param opsAuthMode string = 'entra'

@description('Client id of an existing ops API app registration (scripts/create-ops-app.sh makes one). Empty: created here when entraInBicep is true.')
param opsAuthClientId string = ''

@description('Create Entra objects with the Microsoft Graph Bicep extension: the ops app registration and the Graph application permission. Needs Entra admin rights; otherwise the hooks do it.')
param entraInBicep bool = false

@description('Microsoft Graph application permission of the app identity (SITES_SELECTED=1 in the hook: Sites.Selected).')
@allowed(['Sites.ReadWrite.All', 'Sites.Selected'])
param graphApplicationPermission string = 'Sites.ReadWrite.All'

@allowed([512, 2048, 4096])
param functionInstanceMemoryMB int = 2048

@minValue(1)
@maxValue(1000)
param functionMaximumInstanceCount int = 2

@description('Application Insights accepts only Entra-authenticated telemetry (grants Monitoring Metrics Publisher).')
param appInsightsEntraAuth bool = false

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }

var pushQueueName = 'arcore-push'
var pullQueueName = 'arcore-pull'
var functionAppName = '${abbrs.webSitesFunctions}api-${resourceToken}'
// The app's default host name, known before it exists (the registration it signs in with is made first): the
// site asks for no unique default host name (autoGeneratedDomainNameLabelScope), so it is <name>.azurewebsites.net.
var functionAppHostName = '${functionAppName}.azurewebsites.net'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var graphClientSecretName = 'graph-client-secret'
var postgresAdminName = empty(principalName) ? deployer().userPrincipalName : principalName
var postgresClientRanges = map(
  filter(split(postgresAllowedIpRanges, ','), entry => !empty(trim(entry))),
  entry => {
    start: trim(first(split(entry, '-')))
    end: trim(last(split(entry, '-')))
  }
)

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
    disableLocalAuth: appInsightsEntraAuth
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    queueNames: [pushQueueName, pullQueueName]
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
  }
}

module postgres 'app/postgres.bicep' = {
  name: 'postgres'
  scope: rg
  params: {
    name: '${abbrs.dBforPostgreSQLServers}${resourceToken}'
    location: location
    tags: tags
    version: postgresVersion
    skuName: postgresSkuName
    skuTier: postgresSkuTier
    storageSizeGB: postgresStorageSizeGB
    passwordAuth: postgresPasswordAuth
    administratorLogin: postgresAdministratorLogin
    administratorPassword: postgresAdministratorPassword
    allowAzureServices: postgresAllowAzureServices
    allowedIpRanges: postgresClientRanges
    databaseName: postgresDatabaseName
    replicationSlots: postgresReplicationSlots
    slotIdleTimeoutHours: postgresSlotIdleTimeoutHours
    entraAdminObjectId: principalId
    entraAdminName: postgresAdminName
    entraAdminType: principalType
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    appIdentityPrincipalId: identity.outputs.principalId
    appInsightsEntraAuth: appInsightsEntraAuth
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
  }
}

module entra 'app/entra.bicep' = if (entraInBicep) {
  name: 'entra'
  scope: rg
  params: {
    createOpsApp: opsAuthMode == 'entra' && empty(opsAuthClientId)
    opsAppUniqueName: 'arcore-ops-${resourceToken}'
    opsAppDisplayName: 'ArcoreSyncBridge ops API (${environmentName})'
    opsAppSignInRedirectUri: 'https://${functionAppHostName}/.auth/login/aad/callback'
    assignGraphPermission: graphAuthMode == 'default'
    appPrincipalId: identity.outputs.principalId
    graphPermission: graphApplicationPermission
    deployerPrincipalId: principalId
  }
}

// Entra mode needs an app registration; without one the ops API falls back to the master key (never to
// no authentication), and the postprovision hook says so.
var opsClientId = !empty(opsAuthClientId) ? opsAuthClientId : (entraInBicep ? entra!.outputs.opsClientId : '')
var opsAuthEffective = opsAuthMode == 'entra' && !empty(opsClientId) ? 'entra' : 'key'

var databaseUrl = 'postgres://${postgresAppRoleName}@${postgres.outputs.fqdn}:5432/${postgres.outputs.databaseName}?sslmode=require'

module api 'app/functionapp.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    serviceName: 'api'
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    appInsightsEntraAuth: appInsightsEntraAuth
    instanceMemoryMB: functionInstanceMemoryMB
    maximumInstanceCount: functionMaximumInstanceCount
    databaseUrl: databaseUrl
    graphAuthMode: graphAuthMode
    graphAppClientId: graphAppClientId
    graphClientSecretUri: '${keyVault.outputs.uri}secrets/${graphClientSecretName}'
    graphRuPerMinute: graphRuPerMinute
    graphRuPerDay: graphRuPerDay == 0 ? graphRuPerMinute * 960 : graphRuPerDay
    graphMaxConcurrency: graphMaxConcurrency
    pushQueueName: pushQueueName
    pullQueueName: pullQueueName
    pushSchedule: pushSchedule
    pullSafetySchedule: pullSafetySchedule
    subscriptionSchedule: subscriptionSchedule
    opsAuth: opsAuthEffective
    opsAuthClientId: opsClientId
  }
  // The identity must hold its storage and Key Vault roles before the host first starts.
  dependsOn: [rbac]
}

// azd stores these in .azure/<env>/.env; the hooks read them from the environment.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = 'https://${api.outputs.defaultHostName}'
output AZURE_MANAGED_IDENTITY_NAME string = identity.outputs.name
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output GRAPH_CLIENT_SECRET_NAME string = graphClientSecretName
output GRAPH_AUTH_MODE string = graphAuthMode
output GRAPH_APP_CLIENT_ID string = graphAppClientId
output POSTGRES_SERVER_NAME string = postgres.outputs.name
output POSTGRES_HOST string = postgres.outputs.fqdn
output POSTGRES_DATABASE string = postgres.outputs.databaseName
output POSTGRES_APP_ROLE string = postgresAppRoleName
output POSTGRES_ADMIN_NAME string = postgresAdminName
output DATABASE_URL string = databaseUrl
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.connectionString
output OPS_AUTH_MODE string = opsAuthMode
output OPS_AUTH_EFFECTIVE string = opsAuthEffective
output OPS_AUTH_CLIENT_ID string = opsClientId
output ENTRA_IN_BICEP bool = entraInBicep
