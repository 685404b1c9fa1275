// Microsoft Entra objects, through the Microsoft Graph Bicep extension (GA July 2025, types v1.0:1.0.0,
// Bicep 0.36.1+; https://learn.microsoft.com/graph/templates/reference/overview). Deployed only when the
// deployer asks for it (ENTRA_IN_BICEP=true): creating an app registration and granting an application
// permission need Entra rights (Application Administrator / Privileged Role Administrator, i.e.
// AppRoleAssignment.ReadWrite.All; https://learn.microsoft.com/graph/templates/reference/approleassignedto)
// that many Azure deployers lack. Without it, scripts/create-ops-app.sh and
// scripts/grant-graph-permissions.sh do the same from the hooks.
extension microsoftGraphV1

@description('Create the ops API app registration (with the Ops.Read and Ops.Write app roles).')
param createOpsApp bool

param opsAppUniqueName string
param opsAppDisplayName string

@description('https://<function app host>/.auth/login/aad/callback: where Microsoft Entra answers an operator signing in to the console.')
param opsAppSignInRedirectUri string

@description('Grant graphPermission to appPrincipalId (the managed identity; clientSecret mode leaves it to the hook).')
param assignGraphPermission bool

@description('Object id of the principal the app runs as; it receives the Graph application permission.')
param appPrincipalId string

@description('Microsoft Graph application permission the app needs, e.g. Sites.ReadWrite.All.')
param graphPermission string

@description('Object id of the deployer; made an operator (Ops.Write) of the ops API. Empty: nobody.')
param deployerPrincipalId string

// Microsoft Graph's service principal (the same application id in every tenant).
resource graphSp 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: '00000003-0000-0000-c000-000000000000'
}

resource graphPermissionAssignment 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (assignGraphPermission) {
  principalId: appPrincipalId
  resourceId: graphSp.id
  appRoleId: filter(graphSp.appRoles, role => role.value == graphPermission && contains(role.allowedMemberTypes, 'Application'))[0].id
}

var opsReadRoleId = guid(opsAppUniqueName, 'Ops.Read')
var opsWriteRoleId = guid(opsAppUniqueName, 'Ops.Write')

resource opsApp 'Microsoft.Graph/applications@v1.0' = if (createOpsApp) {
  uniqueName: opsAppUniqueName
  displayName: opsAppDisplayName
  signInAudience: 'AzureADMyOrg'
  api: {
    // v2 tokens: the audience is the client id, which Easy Auth accepts (functionapp.bicep).
    requestedAccessTokenVersion: 2
  }
  // Console sign-in through App Service Authentication: Entra answers at the app's /.auth/login/aad/callback,
  // which must be a web redirect URI (AADSTS50011 otherwise). Without a client secret Easy Auth signs in with
  // the implicit flow and gets an ID token, so the registration must issue them
  // (https://learn.microsoft.com/azure/app-service/configure-authentication-provider-aad).
  web: {
    redirectUris: [
      opsAppSignInRedirectUri
    ]
    implicitGrantSettings: {
      enableIdTokenIssuance: true
      enableAccessTokenIssuance: false
    }
  }
  appRoles: [
    {
      id: opsReadRoleId
      value: 'Ops.Read'
      displayName: 'ArcoreSyncBridge reader'
      description: 'Read definitions, runs, conflicts and failures through the ops API.'
      allowedMemberTypes: ['User', 'Application']
      isEnabled: true
    }
    {
      id: opsWriteRoleId
      value: 'Ops.Write'
      displayName: 'ArcoreSyncBridge operator'
      description: 'Run pushes and pulls, reset cursors, resolve conflicts, retry or discard failures.'
      allowedMemberTypes: ['User', 'Application']
      isEnabled: true
    }
  ]
}

resource opsSp 'Microsoft.Graph/servicePrincipals@v1.0' = if (createOpsApp) {
  appId: opsApp.appId
  // Only users, groups and applications given one of the two roles get a token at all.
  appRoleAssignmentRequired: true
}

resource deployerOperator 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (createOpsApp && !empty(deployerPrincipalId)) {
  principalId: deployerPrincipalId
  resourceId: opsSp.id
  appRoleId: opsWriteRoleId
}

output opsClientId string = createOpsApp ? opsApp.appId : ''
