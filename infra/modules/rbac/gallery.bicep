// A role assigned to the app's identity at one Azure Compute Gallery (deployed to the gallery's
// resource group): vmdr captures image versions of strategy: image VMs there and creates VMs and
// scale sets from them, and nothing else of the group.
targetScope = 'resourceGroup'

@description('Resource id of the Azure Compute Gallery.')
param galleryId string

@description('Role definition resource id.')
param roleDefinitionId string

@description('Object id of the app\'s managed identity.')
param principalId string

@description('Why the app holds this role here (shown with the assignment).')
param reason string

resource gallery 'Microsoft.Compute/galleries@2024-03-03' existing = {
  name: split(galleryId, '/')[8]
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(galleryId, principalId, roleDefinitionId)
  scope: gallery
  properties: {
    roleDefinitionId: roleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: reason
  }
}
