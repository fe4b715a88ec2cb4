// Storage Blob Data Contributor for the app's identity on the staging account of
// `copy_method: blob` plans (deployed to the account's resource group): vmdr writes disk copies
// there as page blobs and deletes the ones it pruned.
targetScope = 'resourceGroup'

@description('Resource id of the staging storage account.')
param storageAccountId string

@description('Object id of the app\'s managed identity.')
param principalId string

var blobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource staging 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: split(storageAccountId, '/')[8]
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccountId, principalId, blobDataContributor)
  scope: staging
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'vmdr: disk copies of copy_method blob plans'
  }
}
