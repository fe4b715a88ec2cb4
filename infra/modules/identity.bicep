// The app's user-assigned managed identity: it outlives the Function App (a redeploy or a new app
// keeps its role assignments), and the same client id serves the host and DefaultAzureCredential.
@description('Name of the user-assigned managed identity.')
@minLength(3)
@maxLength(128)
param name string

@description('Region of the identity: the secondary region, with the app.')
param location string

@description('Tags of every resource vmdr deploys.')
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
