// A role assigned to the app's identity at one subnet (deployed to the subnet's resource group):
// recovered NICs join it.
targetScope = 'resourceGroup'

@description('Resource id of the subnet: .../virtualNetworks/{vnet}/subnets/{subnet}.')
param subnetId string

@description('Role definition resource id.')
param roleDefinitionId string

@description('Object id of the app\'s managed identity.')
param principalId string

@description('Why the app holds this role here (shown with the assignment).')
param reason string

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' existing = {
  name: split(subnetId, '/')[8]

  resource subnet 'subnets' existing = {
    name: split(subnetId, '/')[10]
  }
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subnetId, principalId, roleDefinitionId)
  scope: vnet::subnet
  properties: {
    roleDefinitionId: roleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: reason
  }
}
