// Data roles of the app's identity on its own storage account and Application Insights. Built-in
// roles (learn.microsoft.com, "Connecting to host storage with an identity"): the host needs Blob
// Data Owner; Durable Functions' Azure Storage provider needs Queue and Table Data Contributor;
// telemetry without keys needs Monitoring Metrics Publisher. The catalog lives in the same
// account's blob container.
targetScope = 'resourceGroup'

@description('Name of the app\'s storage account.')
param storageAccountName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Object id of the app\'s managed identity.')
param principalId string

var storageRoles = [
  {
    id: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
    name: 'Storage Blob Data Owner'
  }
  {
    id: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
    name: 'Storage Queue Data Contributor'
  }
  {
    id: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
    name: 'Storage Table Data Contributor'
  }
]
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource storageAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in storageRoles: {
  name: guid(storage.id, principalId, role.id)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.id)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'vmdr: ${role.name} on its own storage (task hub, package, catalog)'
  }
}]

resource telemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'vmdr: telemetry to Application Insights without keys'
  }
}
