// A role assigned to the app's identity at the resource group this module is deployed to.
targetScope = 'resourceGroup'

@description('Role definition resource id.')
param roleDefinitionId string

@description('Object id of the app\'s managed identity.')
param principalId string

@description('Why the app holds this role here (shown with the assignment).')
param reason string

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, roleDefinitionId)
  properties: {
    roleDefinitionId: roleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: reason
  }
}
