// A role assigned to the app's identity at one Traffic Manager profile (deployed to the profile's
// resource group): vmdr switches its endpoints, and nothing else of the group.
targetScope = 'resourceGroup'

@description('Resource id of the Traffic Manager profile.')
param profileId string

@description('Role definition resource id.')
param roleDefinitionId string

@description('Object id of the app\'s managed identity.')
param principalId string

@description('Why the app holds this role here (shown with the assignment).')
param reason string

resource profile 'Microsoft.Network/trafficmanagerprofiles@2022-04-01' existing = {
  name: split(profileId, '/')[8]
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(profileId, principalId, roleDefinitionId)
  scope: profile
  properties: {
    roleDefinitionId: roleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: reason
  }
}
