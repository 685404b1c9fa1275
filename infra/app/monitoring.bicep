// Log Analytics workspace and the workspace-based Application Insights component the app reports to.
param logAnalyticsName string
param applicationInsightsName string
param location string
param tags object

@description('Refuse instrumentation-key ingestion: telemetry must then be sent with an Entra token (the app needs Monitoring Metrics Publisher).')
param disableLocalAuth bool

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

// Microsoft.Insights/components has no API version newer than 2020-02-02 outside previews.
resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: disableLocalAuth
  }
}

output applicationInsightsName string = appInsights.name
output connectionString string = appInsights.properties.ConnectionString
