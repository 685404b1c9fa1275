// Azure Database for PostgreSQL Flexible Server: the metadata store (and default source) of ArcoreSyncBridge.
// Entra authentication only by default: the app logs in with its managed identity's token, never a password.
// Every child is chained with dependsOn: the server accepts one management operation at a time, and
// parallel child deployments fail with ServerBusy/Conflict.
param name string
param location string
param tags object

@allowed(['14', '15', '16', '17', '18'])
param version string

@description('Compute SKU, e.g. Standard_B1ms (Burstable), Standard_D2ds_v5 (GeneralPurpose).')
param skuName string

@allowed(['Burstable', 'GeneralPurpose', 'MemoryOptimized'])
param skuTier string

@minValue(32)
@maxValue(32767)
param storageSizeGB int

@description('Also accept password logins (off by default: Entra only).')
param passwordAuth bool

@description('Password-login administrator, used only when passwordAuth is true.')
param administratorLogin string

@secure()
@description('Password of that administrator, used only when passwordAuth is true. Never stored in app settings.')
param administratorPassword string

@description('Add the 0.0.0.0 rule that lets Azure services (the Flex Consumption app has no fixed outbound IP) connect.')
param allowAzureServices bool

@description('Further client ranges allowed through the firewall: [{ start: "203.0.113.7", end: "203.0.113.7" }].')
param allowedIpRanges array

param databaseName string

// Documented ranges (https://learn.microsoft.com/azure/postgresql/flexible-server/param-replication-sending-servers):
// max_replication_slots 2-262143 (at least 4 if high availability is ever turned on), max_wal_senders
// 5-100 and never below 2 (HA) + read replicas + logical slots in use. max_wal_senders is therefore
// slots + 2, which keeps 4..98 slots inside 6..100 senders.
@description('max_replication_slots (max_wal_senders is this + 2): one logical slot per LSN definition, plus room.')
@minValue(4)
@maxValue(98)
param replicationSlots int

// The cap on WAL a forgotten slot may keep. PostgreSQL's own cap, max_slot_wal_keep_size, is read-only on the
// flexible server (allowed value -1 only, https://learn.microsoft.com/azure/postgresql/server-parameters/param-replication-sending-servers),
// so a deployment that set it would be refused. PostgreSQL 18 has idle_replication_slot_timeout (seconds,
// dynamic, 0-2147483647 on the flexible server,
// https://learn.microsoft.com/azure/postgresql/server-parameters/param-replication-standby-servers): a slot no
// run has read for this long is invalidated at the next checkpoint and its WAL freed; the definition then
// re-reads its table and compares (docs/deploy.md). On 14-17 the app's own guards stand alone
// (SLOT_WAL_WARN_BYTES, SLOT_DROP_AFTER_DISABLED_HOURS).
@description('PostgreSQL 18 only: hours a replication slot may go unread before the server invalidates it (0: never). Longer than the app\'s SLOT_DROP_AFTER_DISABLED_HOURS, so the app normally drops a disabled definition\'s slot first.')
@minValue(0)
@maxValue(596523)
param slotIdleTimeoutHours int

@description('Object id of the Entra principal made server administrator (the deployer). Empty: none is added.')
param entraAdminObjectId string

@description('Its name as Postgres knows it: UPN for a user, display name for a group or service principal.')
param entraAdminName string

@allowed(['User', 'Group', 'ServicePrincipal'])
param entraAdminType string

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2025-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: version
    administratorLogin: passwordAuth ? administratorLogin : null
    administratorLoginPassword: passwordAuth ? administratorPassword : null
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: passwordAuth ? 'Enabled' : 'Disabled'
      tenantId: tenant().tenantId
    }
    storage: {
      storageSizeGB: storageSizeGB
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
    network: {
      publicNetworkAccess: 'Enabled'
    }
  }
}

// Logical decoding for change data capture. wal_level is static: the value is stored now and takes effect
// at the next restart, which scripts/postprovision.sh performs when `SHOW wal_level` is not yet logical.
resource walLevel 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2025-08-01' = {
  parent: server
  name: 'wal_level'
  properties: {
    value: 'logical'
    source: 'user-override'
  }
}

resource maxReplicationSlots 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2025-08-01' = {
  parent: server
  name: 'max_replication_slots'
  properties: {
    value: string(replicationSlots)
    source: 'user-override'
  }
  dependsOn: [walLevel]
}

resource maxWalSenders 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2025-08-01' = {
  parent: server
  name: 'max_wal_senders'
  properties: {
    value: string(replicationSlots + 2)
    source: 'user-override'
  }
  dependsOn: [maxReplicationSlots]
}

resource slotIdleTimeout 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2025-08-01' = if (version == '18' && slotIdleTimeoutHours > 0) {
  parent: server
  name: 'idle_replication_slot_timeout'
  properties: {
    value: string(slotIdleTimeoutHours * 3600)
    source: 'user-override'
  }
  dependsOn: [maxWalSenders]
}

resource allowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2025-08-01' = if (allowAzureServices) {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
  dependsOn: [maxWalSenders, slotIdleTimeout]
}

@batchSize(1)
resource clientRanges 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2025-08-01' = [
  for (ipRange, i) in allowedIpRanges: {
    parent: server
    name: 'client-range-${i}'
    properties: {
      startIpAddress: ipRange.start
      endIpAddress: ipRange.end
    }
    dependsOn: [maxWalSenders, slotIdleTimeout, allowAzure]
  }
]

resource entraAdmin 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2025-08-01' = if (!empty(entraAdminObjectId) && !empty(entraAdminName)) {
  parent: server
  name: entraAdminObjectId
  properties: {
    principalName: entraAdminName
    principalType: entraAdminType
    tenantId: tenant().tenantId
  }
  dependsOn: [clientRanges]
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2025-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
  dependsOn: [entraAdmin]
}

output name string = server.name
output fqdn string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name
