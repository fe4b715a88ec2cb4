// vmdr in Azure: `azd up` deploys this at the subscription of the secondary region (README
// "Deploy to Azure"). It creates the app's resource group with a Flex Consumption Function App,
// its storage, monitoring and user-assigned identity; the custom roles of roles/*.json, assigned
// to the identity at the scopes given below; data roles on the app's and the staging storage and
// on the accounts of application backups; and the alert wiring. Modelled on
// Azure-Samples/durable-functions-quickstart-python-azd.
targetScope = 'subscription'

// ---------------------------------------------------------------------------------- parameters
@minLength(1)
@maxLength(64)
@description('Name of the azd environment; with the subscription and region it makes the unique token of every resource name.')
param environmentName string

@minLength(1)
@description('The SECONDARY region: vmdr, its task hub and its catalog run where VMs are recovered (it must offer Flex Consumption: az functionapp list-flexconsumption-locations).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@minLength(1)
@description('The PRIMARY region, where the protected VMs run (the availability alert watches it).')
param primaryLocation string

@minLength(1)
@description('Resource ids of the primary resource groups holding protected VMs (/subscriptions/{id}/resourceGroups/{name}); the primary role is assigned at each.')
param primaryResourceGroupIds array

@minLength(1)
@description('Resource id of the secondary resource group (plans\' secondary.resource_group): copies, recovered disks, NICs and VMs, standby VMs, scale sets. The secondary role is assigned there.')
param secondaryResourceGroupId string

@minLength(1)
@description('Resource ids of the subnets recovered VMs join (plans\' secondary.subnet_id and drill_subnet_id); the secondary role is assigned at each.')
param secondarySubnetIds array

@description('Resource ids of the Traffic Manager profiles vmdr switches (plans\' dns.profile_id); the traffic-manager role is assigned at each. Empty: no DNS step.')
param trafficManagerProfileIds array = []

@description('Resource ids of the Azure Compute Galleries of strategy: image plans (their image.gallery_id; in the secondary region); the gallery role is assigned at each. Empty: no image VMs.')
param galleryIds array = []

@description('Assign the failback role (roles/failback-primary.json: new disks and an OS disk swap on the primary VMs) at the primary resource groups. Off by default: least privilege; turn it on (azd provision) before a failback and off afterwards.')
param assignFailbackRole bool = false

@description('Resource id of the staging storage account of copy_method: blob plans (secondary.storage_account_id); empty when no plan copies by blob.')
param stagingStorageAccountId string = ''

@description('Resource ids of the storage accounts where applications write the backups plans copy (groups[].backups[].source.storage_account_id, primary region); Storage Blob Data Reader is assigned at each. Empty: no application backups.')
param backupSourceStorageAccountIds array = []

@description('Resource ids of the storage accounts vmdr copies application backups to (groups[].backups[].target.storage_account_id, secondary region); Storage Blob Data Contributor is assigned at each.')
param backupTargetStorageAccountIds array = []

@minLength(11)
@maxLength(100)
@description('NCRONTAB of the protect timer (six fields, seconds first); each tick starts the plans whose own schedule came due.')
param protectTick string = '0 */5 * * * *'

@minLength(3)
@maxLength(45)
@description('Durable Functions task hub name: letters and digits, starting with a letter.')
param taskHubName string = 'vmdr'

@minLength(3)
@maxLength(63)
@description('Blob container of the catalog (plans, recovery point manifests, run reports).')
param catalogContainerName string = 'vmdr'

@description('Region names vmdr accepts beyond those it knows (a region Azure opened recently), comma-separated.')
param extraRegions string = ''

@minValue(0)
@maxValue(20)
@description('Always-ready instances of the Durable Functions and HTTP scale groups: 1 keeps the webhook and the orchestrations warm; 0 scales to zero (cold starts, no standing cost).')
param alwaysReadyInstances int = 1

@allowed([
  512
  2048
  4096
])
@description('Memory of each Flex Consumption instance, in MB.')
param instanceMemoryMB int = 2048

@minValue(40)
@maxValue(1000)
@description('Most instances the app scales out to.')
param maximumInstanceCount int = 100

@description('Spread the app over availability zones of the secondary region (the region must have zones; Flex Consumption then keeps at least two always-ready instances per group).')
param zoneRedundant bool = false

@description('Create the example availability alert rule on the primary VMs.')
param createAvailabilityAlert bool = true

@maxLength(260)
@description('Name of the availability alert rule (list it in plans\' failover.alert_rules); empty: vmdr-{primaryLocation}-availability.')
param availabilityAlertName string = ''

@maxLength(90)
@description('Name of the app\'s resource group; empty: rg-{environmentName}.')
param resourceGroupName string = ''

@description('Give the action group its webhook with the alert function\'s own key (Microsoft.Web/sites/functions/keys `alerts`). Off on the very first provision: the function, and so its keys, exist only once `azd deploy` has put the code there; then `azd env set VMDR_WIRE_ALERT_WEBHOOK true` and `azd provision`.')
param wireAlertWebhook bool = false

@maxLength(36)
@description('Application (client) id of vmdr\'s Microsoft Entra app registration (its app roles Reader, Operator, Approver): turns on App Service authentication, and vmdr then authorizes operator routes by the caller\'s roles (VMDR_EASY_AUTH). Empty: keys only.')
param entraClientId string = ''

// ----------------------------------------------------------------------------------- names
var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  app: 'vmdr'
}
var functionAppName = '${abbrs.webSitesFunctions}vmdr-${resourceToken}'
var deploymentContainerName = 'app-package-${resourceToken}'
var alertRuleName = empty(availabilityAlertName) ? 'vmdr-${primaryLocation}-availability' : availabilityAlertName
var secondarySubscriptionId = split(secondaryResourceGroupId, '/')[2]

// --------------------------------------------------------------------------- the app itself
resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: empty(resourceGroupName) ? '${abbrs.resourcesResourceGroups}${environmentName}' : resourceGroupName
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}vmdr-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}vmdr${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    catalogContainerName: catalogContainerName
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}vmdr-${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}vmdr-${resourceToken}'
    location: location
    tags: tags
  }
}

module appData 'modules/rbac/app-data.bicep' = {
  name: 'app-data-roles'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    principalId: identity.outputs.principalId
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}vmdr-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    taskHubName: taskHubName
    protectTick: protectTick
    catalogContainerName: catalogContainerName
    extraRegions: extraRegions
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    alwaysReadyInstances: alwaysReadyInstances
    zoneRedundant: zoneRedundant
    entraClientId: entraClientId
  }
  dependsOn: [
    appData
  ]
}

// ------------------------------------------------------------------ least privilege, by side
// Each role's actions live in roles/*.json only (armsim enforces the same files in every test);
// which role goes at which scopes is described in role-assignments.json, which the local
// platform gives armsim's `vmdr` principal. The module blocks below stay written out — each is
// tied to its module file and scope function at compile time, and loadJsonContent takes only
// literal paths — and tests/infra/test_bicep.py fails when they assign anything else.
// A custom role may be assigned only within its assignable scopes: the subscriptions of the
// scopes below, and this deployment's subscription (where the definition is created).
var primarySubscriptions = [for id in primaryResourceGroupIds: '/subscriptions/${split(id, '/')[2]}']
var subnetSubscriptions = [for id in secondarySubnetIds: '/subscriptions/${split(id, '/')[2]}']
var profileSubscriptions = [for id in trafficManagerProfileIds: '/subscriptions/${split(id, '/')[2]}']
var gallerySubscriptions = [for id in galleryIds: '/subscriptions/${split(id, '/')[2]}']
var secondarySubscription = '/subscriptions/${secondarySubscriptionId}'

// To add a role: a JSON file in roles/, an entry here, its scopes in role-assignments.json, and a
// module block assigning it there below.
var vmdrRoles = [
  {
    key: 'primary'
    definition: loadJsonContent('roles/primary.json')
    assignableScopes: union([subscription().id], primarySubscriptions)
  }
  {
    key: 'secondary'
    definition: loadJsonContent('roles/secondary.json')
    assignableScopes: union([subscription().id, secondarySubscription], subnetSubscriptions)
  }
  {
    key: 'secondary-region'
    definition: loadJsonContent('roles/secondary-region.json')
    assignableScopes: union([subscription().id], [secondarySubscription])
  }
  {
    key: 'traffic-manager'
    definition: loadJsonContent('roles/traffic-manager.json')
    assignableScopes: union([subscription().id], profileSubscriptions)
  }
  {
    key: 'failback-primary'
    definition: loadJsonContent('roles/failback-primary.json')
    assignableScopes: union([subscription().id], primarySubscriptions)
  }
  {
    key: 'gallery'
    definition: loadJsonContent('roles/gallery.json')
    assignableScopes: union([subscription().id], gallerySubscriptions)
  }
]

resource roleDefinitions 'Microsoft.Authorization/roleDefinitions@2022-04-01' = [for role in vmdrRoles: {
  name: guid(subscription().id, environmentName, role.key)
  properties: {
    // Custom role names are unique in the tenant: one set per azd environment.
    roleName: '${role.definition.Name} (${environmentName})'
    description: role.definition.Description
    type: 'CustomRole'
    permissions: [
      {
        actions: role.definition.Actions
        notActions: role.definition.NotActions
        dataActions: role.definition.DataActions
        notDataActions: role.definition.NotDataActions
      }
    ]
    assignableScopes: role.assignableScopes
  }
}]

// roleDefinitions[i] follows vmdrRoles[i].
module primaryAssignments 'modules/rbac/resource-group.bicep' = [for id in primaryResourceGroupIds: {
  name: take('vmdr-primary-${uniqueString(id)}', 64)
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    roleDefinitionId: roleDefinitions[0].id
    principalId: identity.outputs.principalId
    reason: 'vmdr primary: snapshots and restore points of protected VMs, deallocate and start'
  }
}]

module secondaryAssignment 'modules/rbac/resource-group.bicep' = {
  name: take('vmdr-secondary-${uniqueString(secondaryResourceGroupId)}', 64)
  scope: resourceGroup(secondarySubscriptionId, split(secondaryResourceGroupId, '/')[4])
  params: {
    roleDefinitionId: roleDefinitions[1].id
    principalId: identity.outputs.principalId
    reason: 'vmdr secondary: copies, recovered disks, NICs and VMs, standby VMs and scale sets'
  }
}

module subnetAssignments 'modules/rbac/subnet.bicep' = [for id in secondarySubnetIds: {
  name: take('vmdr-subnet-${uniqueString(id)}', 64)
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    subnetId: id
    roleDefinitionId: roleDefinitions[1].id
    principalId: identity.outputs.principalId
    reason: 'vmdr secondary: recovered NICs join this subnet'
  }
}]

module secondaryRegionAssignment 'modules/rbac/subscription.bicep' = {
  name: take('vmdr-secondary-region-${uniqueString(secondarySubscription)}', 64)
  scope: subscription(secondarySubscriptionId)
  params: {
    roleDefinitionId: roleDefinitions[2].id
    principalId: identity.outputs.principalId
    reason: 'vmdr secondary region: the VM sizes the region offers (failover preflight)'
  }
}

module trafficManagerAssignments 'modules/rbac/traffic-manager-profile.bicep' = [for id in trafficManagerProfileIds: {
  name: take('vmdr-tm-${uniqueString(id)}', 64)
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    profileId: id
    roleDefinitionId: roleDefinitions[3].id
    principalId: identity.outputs.principalId
    reason: 'vmdr traffic manager: the DNS switch and fencing of the primary endpoint'
  }
}]

module failbackAssignments 'modules/rbac/resource-group.bicep' = [for id in (assignFailbackRole ? primaryResourceGroupIds : []): {
  name: take('vmdr-failback-${uniqueString(id)}', 64)
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    roleDefinitionId: roleDefinitions[4].id
    principalId: identity.outputs.principalId
    reason: 'vmdr failback: new disks for the primary VMs and their OS disk swap'
  }
}]

module galleryAssignments 'modules/rbac/gallery.bicep' = [for id in galleryIds: {
  name: take('vmdr-gallery-${uniqueString(id)}', 64)
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    galleryId: id
    roleDefinitionId: roleDefinitions[5].id
    principalId: identity.outputs.principalId
    reason: 'vmdr gallery: image versions of strategy: image VMs, and VMs and scale sets from them'
  }
}]

module stagingAssignment 'modules/rbac/staging-storage.bicep' = if (!empty(stagingStorageAccountId)) {
  name: take('vmdr-staging-${uniqueString(stagingStorageAccountId)}', 64)
  scope: resourceGroup(split(stagingStorageAccountId, '/')[2], split(stagingStorageAccountId, '/')[4])
  params: {
    storageAccountId: stagingStorageAccountId
    principalId: identity.outputs.principalId
  }
}

module backupSourceAssignments 'modules/rbac/backup-storage.bicep' = [for id in backupSourceStorageAccountIds: {
  name: take('vmdr-backups-src-${uniqueString(id)}', 64)
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    storageAccountId: id
    principalId: identity.outputs.principalId
    side: 'source'
  }
}]

module backupTargetAssignments 'modules/rbac/backup-storage.bicep' = [for id in backupTargetStorageAccountIds: {
  name: take('vmdr-backups-dst-${uniqueString(id)}', 64)
  scope: resourceGroup(split(id, '/')[2], split(id, '/')[4])
  params: {
    storageAccountId: id
    principalId: identity.outputs.principalId
    side: 'target'
  }
}]

// ---------------------------------------------------------------------------- alert wiring
module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    functionAppName: functionApp.outputs.name
    wireAlertWebhook: wireAlertWebhook
    actionGroupName: '${abbrs.insightsActionGroups}vmdr-${resourceToken}'
    actionGroupShortName: 'vmdr'
    tags: tags
    createAvailabilityAlert: createAvailabilityAlert
    availabilityAlertName: alertRuleName
    primaryResourceGroupIds: primaryResourceGroupIds
    primaryLocation: primaryLocation
  }
}

// ------------------------------------------------------------------------------- outputs
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output VMDR_API_URL string = 'https://${functionApp.outputs.defaultHostName}/api'
output VMDR_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output VMDR_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output VMDR_AVAILABILITY_ALERT_RULE string = alerts.outputs.availabilityAlertName
output VMDR_ALERT_WEBHOOK_WIRED bool = alerts.outputs.alertWebhookWired
