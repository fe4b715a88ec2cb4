// The app's own storage account, in the secondary region: the Durable Functions task hub (queues,
// tables), timer and key state, the deployment package (Flex Consumption reads it from a blob
// container) and vmdr's catalog. Shared keys are disabled: everything reaches it with the
// managed identity (AzureWebJobsStorage__accountName / __credential / __clientId).
@description('Name of the storage account (3-24 lowercase letters and digits, globally unique).')
@minLength(3)
@maxLength(24)
param name string

@description('Region of the account: the secondary region, with the app.')
param location string

@description('Tags of every resource vmdr deploys.')
param tags object

@description('Blob container the Flex Consumption app deploys its package from.')
@minLength(3)
@maxLength(63)
param deploymentContainerName string

@description('Blob container of the catalog (VMDR_CATALOG_CONTAINER).')
@minLength(3)
@maxLength(63)
param catalogContainerName string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: the Function App (no VNet integration) reaches its storage over the public endpoint; shared keys are disabled, so only Entra identities holding data roles get in
  // checkov:skip=CKV_AZURE_59: as for CKV_AZURE_35, a public endpoint that only Entra identities with data roles can use
  // checkov:skip=CKV_AZURE_206: zone-redundant (ZRS) on purpose; geo-replication would copy the task hub and catalog to the paired region, usually the primary whose outage vmdr is for
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    // Zone-redundant: the app must keep running when a zone of the secondary region fails.
    name: 'Standard_ZRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource catalogContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: catalogContainerName
  properties: {
    publicAccess: 'None'
  }
}

output id string = storage.id
output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
