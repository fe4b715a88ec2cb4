// Data roles for the app's identity on a storage account of application backups (plans'
// groups[].backups; deployed to the account's resource group). A source account (primary
// region): Storage Blob Data Reader — list and read the backups, and ask for a user delegation
// key (generateUserDelegationKey is part of that role, at the account) to sign the read SAS a
// server-side copy uses. A target account (secondary region): Storage Blob Data Contributor —
// create the container, write the copies, delete those retention lets go.
targetScope = 'resourceGroup'

@description('Resource id of the storage account.')
param storageAccountId string

@description('Object id of the app\'s managed identity.')
param principalId string

@allowed([
  'source'
  'target'
])
@description('source: the application writes its backups there; target: vmdr copies them there.')
param side string

var blobDataReader = '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
var blobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var role = side == 'source' ? blobDataReader : blobDataContributor

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: split(storageAccountId, '/')[8]
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccountId, principalId, role)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: side == 'source' ? 'vmdr: read application backups to copy them' : 'vmdr: application backup copies'
  }
}
