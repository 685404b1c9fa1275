// The Flex Consumption plan and the Function App (Node 22, Linux) running as the user-assigned identity.
// Flex Consumption takes its runtime from functionAppConfig: FUNCTIONS_WORKER_RUNTIME,
// FUNCTIONS_EXTENSION_VERSION and WEBSITE_RUN_FROM_PACKAGE must not be set.
param name string
param planName string
param location string
param tags object

@description('azd deploys the `api` service of azure.yaml to the resource carrying this tag value.')
param serviceName string

param identityId string
param identityClientId string
param storageAccountName string
param storageBlobEndpoint string
param deploymentContainerName string
param applicationInsightsName string
param appInsightsEntraAuth bool

@allowed([512, 2048, 4096])
param instanceMemoryMB int

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

@description('postgres://<role>@<server>:5432/<db>?sslmode=require: no password, the Entra token is the password.')
param databaseUrl string

@allowed(['default', 'clientSecret'])
param graphAuthMode string

@description('Client id of the app registration (clientSecret mode only).')
param graphAppClientId string

@description('Key Vault URI of the Graph client secret (clientSecret mode only); the setting is a Key Vault reference to it.')
param graphClientSecretUri string

param graphRuPerMinute int
param graphRuPerDay int
param graphMaxConcurrency int
param pushQueueName string
param pullQueueName string
param pushSchedule string
param pullSafetySchedule string
param subscriptionSchedule string

@description('entra: App Service Authentication (Easy Auth) guards the ops API; key: the master key does (src/functions/opsAuth.ts).')
@allowed(['entra', 'key'])
param opsAuth string

@description('Client id of the ops API app registration (the token audience); required when opsAuth is entra.')
param opsAuthClientId string

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Without this, Key Vault references are resolved with a system-assigned identity the app does not have.
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

// In clientSecret mode the app registration is the app's identity for Graph and Postgres alike (the
// settings carry one AZURE_CLIENT_ID); the managed identity still reaches storage and Key Vault.
var appSettings = union(
  {
    AzureWebJobsStorage__accountName: storageAccountName
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
    DATABASE_URL: databaseUrl
    DATABASE_AUTH: 'entra'
    AZURE_CLIENT_ID: graphAuthMode == 'clientSecret' ? graphAppClientId : identityClientId
    AZURE_TENANT_ID: tenant().tenantId
    GRAPH_AUTH: graphAuthMode
    GRAPH_BASE_URL: 'https://graph.microsoft.com/v1.0'
    GRAPH_RU_PER_MINUTE: string(graphRuPerMinute)
    GRAPH_RU_PER_DAY: string(graphRuPerDay)
    GRAPH_MAX_CONCURRENCY: string(graphMaxConcurrency)
    // (5 scaling function groups × maximumInstanceCount + 3 timers) × PG_POOL_MAX stays under the server's
    // connections (docs/deploy.md).
    PG_POOL_MAX: '3'
    GRAPH_MAX_RETRY_AFTER_SECONDS: '300'
    // 5 minutes under host.json's functionTimeout (30 min): an unfinished run is continued (I16).
    RUN_MAX_SECONDS: '1500'
    // A create a stopped run may have sent is waited for this long before the item is created again (I6).
    PENDING_CREATE_SETTLE_SECONDS: '300'
    // Replication slots of LSN definitions: status warns above 1 GiB of retained WAL, and the push timer drops
    // the slot of a definition disabled for 3 days (docs/deploy.md, "Replication slots").
    SLOT_WAL_WARN_BYTES: '1073741824'
    SLOT_DROP_AFTER_DISABLED_HOURS: '72'
    PUSH_QUEUE_NAME: pushQueueName
    PULL_QUEUE_NAME: pullQueueName
    PUSH_SCHEDULE: pushSchedule
    PULL_SAFETY_SCHEDULE: pullSafetySchedule
    SUBSCRIPTION_SCHEDULE: subscriptionSchedule
    // Graph's endpoints are anonymous (clientState authenticates Graph), so their URLs carry no secret and
    // are known here.
    WEBHOOK_NOTIFICATION_URL: 'https://${site.properties.defaultHostName}/api/graph/notifications'
    WEBHOOK_LIFECYCLE_URL: 'https://${site.properties.defaultHostName}/api/graph/lifecycle'
    // Tells the code whether x-ms-client-principal comes from Easy Auth (it is never read otherwise).
    OPS_AUTH: opsAuth
    // V8 heap limits of the Node worker (read by node itself). With V8's defaults a push's worker holds
    // 200–300 MB, mostly collectable garbage; with these limits the same push peaked at 130 MB, for about 15 %
    // more engine CPU per row (more scavenges) and no change where SharePoint's budget sets the pace
    // (docs/performance.md, "Memory per worker" and "The review fixes of 2026-12-07 evening").
    NODE_OPTIONS: '--max-old-space-size=256 --max-semi-space-size=4'
  },
  graphAuthMode == 'clientSecret'
    ? {
        GRAPH_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=${graphClientSecretUri})'
      }
    : {},
  appInsightsEntraAuth
    ? {
        APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
      }
    : {}
)

// This resource replaces the whole set on every provision; nothing else writes app settings.
resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: appSettings
}

// App Service Authentication in front of the app (https://learn.microsoft.com/azure/templates/microsoft.web/sites/config-authsettingsv2):
// it validates a Microsoft Entra token for the ops app registration (a script's bearer token, or the session
// cookie of an operator who signed in at /.auth/login/aad, whose answer comes back to /.auth/login/aad/callback,
// a redirect URI of the registration: entra.bicep, scripts/register-console-sign-in.sh), strips any client-sent
// x-ms-client-principal* header and injects the validated one
// (https://learn.microsoft.com/azure/app-service/configure-authentication-user-identities). The app reads it
// only because OPS_AUTH is 'entra', which this same template sets.
// Unauthenticated requests are let through to the code ("Allow anonymous requests": the app decides,
// https://learn.microsoft.com/azure/app-service/overview-authentication-authorization): Graph's two endpoints
// authenticate by clientState, the ops API answers 401 with a JSON body naming where to sign in (403 without the
// role), and the console page sends a browser to the sign-in. Easy Auth's own Return401 would answer every path
// alike with a bare 401, and RedirectToLoginPage would answer scripts with a sign-in page.
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = if (opsAuth == 'entra') {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: opsAuthClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            opsAuthClientId
            'api://${opsAuthClientId}'
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
  dependsOn: [settings]
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
