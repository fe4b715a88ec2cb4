// The vmdr Function App on a Flex Consumption plan (README "Deploy to Azure" says why this plan):
// Python 3.11, the user-assigned identity for everything, one always-ready instance for the
// Durable Functions group and one for HTTP (the alert webhook must answer at once), and the app
// settings vmdr.settings requires (tests/infra checks them against vmdr.settings.APP_SETTINGS).
@description('Name of the Function App (its host name is <name>.azurewebsites.net).')
@minLength(2)
@maxLength(60)
param name string

@description('Name of the Flex Consumption plan.')
@minLength(1)
@maxLength(60)
param planName string

@description('Region of the app: the secondary region.')
param location string

@description('Tags of every resource vmdr deploys; the app also gets azd-service-name.')
param tags object

@description('Resource id of the user-assigned managed identity.')
param identityId string

@description('Client id of the user-assigned managed identity.')
param identityClientId string

@description('Name of the app\'s storage account.')
param storageAccountName string

@description('Blob endpoint of the app\'s storage account.')
param storageBlobEndpoint string

@description('Blob container the package is deployed to.')
param deploymentContainerName string

@description('Application Insights connection string.')
param applicationInsightsConnectionString string

@description('Durable Functions task hub name (TaskHubName).')
param taskHubName string

@description('NCRONTAB of the protect timer (VMDR_PROTECT_TICK).')
param protectTick string

@description('Catalog container (VMDR_CATALOG_CONTAINER).')
param catalogContainerName string

@description('Region names to accept beyond those vmdr knows (VMDR_EXTRA_REGIONS), comma-separated.')
param extraRegions string

@description('Memory of each instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('Most instances the app scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@description('Always-ready instances of the durable and http groups (0 lets them scale to zero).')
@minValue(0)
@maxValue(20)
param alwaysReadyInstances int

@description('Spread the app over availability zones (Flex Consumption then keeps at least two always-ready instances per group).')
param zoneRedundant bool

@description('Application (client) id of vmdr\'s Entra app registration; empty: no App Service authentication (keys only).')
param entraClientId string

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy is the zoneRedundant parameter, off by default: it keeps at least two always-ready instances per scale group, doubling the standing cost
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
    zoneRedundant: zoneRedundant
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: Azure Monitor action groups call the alert webhook on the public endpoint; every route needs a function key
  // checkov:skip=CKV_AZURE_17: Azure Monitor webhooks present no client certificate; callers authenticate with function keys
  // checkov:skip=CKV_AZURE_212: a Flex Consumption app has no fixed instance count; it scales out by itself, and alwaysReadyInstances keeps the durable and http groups warm
  // checkov:skip=CKV_AZURE_213: Flex Consumption has no App Service health check; the platform replaces failed instances, and the plans' health checks watch the recovered application
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'vmdr'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      // Flex Consumption takes the runtime from functionAppConfig: FUNCTIONS_WORKER_RUNTIME and
      // FUNCTIONS_EXTENSION_VERSION are not app settings there.
      appSettings: [
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storageAccountName
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identityClientId
        }
        {
          name: 'AZURE_CLIENT_ID'
          value: identityClientId
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: applicationInsightsConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identityClientId};Authorization=AAD'
        }
        {
          name: 'TaskHubName'
          value: taskHubName
        }
        {
          name: 'VMDR_PROTECT_TICK'
          value: protectTick
        }
        {
          name: 'VMDR_CATALOG_CONTAINER'
          value: catalogContainerName
        }
        {
          name: 'VMDR_EXTRA_REGIONS'
          value: extraRegions
        }
        {
          // vmdr believes X-MS-CLIENT-PRINCIPAL only with this and the platform's own
          // WEBSITE_AUTH_ENABLED (vmdr/api/access.py)
          name: 'VMDR_EASY_AUTH'
          value: empty(entraClientId) ? 'false' : 'true'
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        // Per-function scaling groups: orchestrators and activities share "durable", HTTP
        // triggers share "http"; the protect timer scales on its own (learn.microsoft.com,
        // "Flex Consumption plan": per-function scaling, always ready instances; "Azure Storage
        // provider": set the durable group's always-ready count to 1).
        alwaysReady: [
          {
            name: 'durable'
            instanceCount: alwaysReadyInstances
          }
          {
            name: 'http'
            instanceCount: alwaysReadyInstances
          }
        ]
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// App Service authentication with Microsoft Entra ID, only with an app registration: bearer tokens
// of that registration are validated and the caller (its app roles among the claims) reaches the
// app in X-MS-CLIENT-PRINCIPAL, a header clients cannot set (learn.microsoft.com, "Work with user
// identities in Azure App Service authentication"). Unauthenticated requests go on to the app
// ("AllowAnonymous"): the alert webhook carries its function key and no token, and vmdr refuses
// an operator route without a principal itself (401).
resource authentication 'Microsoft.Web/sites/config@2024-04-01' = if (!empty(entraClientId)) {
  // checkov reads this child resource as a web app of its own; the app's checks are on functionApp:
  // checkov:skip=CKV_AZURE_13: this resource is the App Service authentication itself (authsettingsV2), which checkov reads only in its v1 form
  // checkov:skip=CKV_AZURE_63: the authentication settings of the app, not a web app; requests are logged in Application Insights
  // checkov:skip=CKV_AZURE_65: the authentication settings of the app, not a web app; errors go to Application Insights
  // checkov:skip=CKV_AZURE_66: the authentication settings of the app, not a web app; failed requests are traced in Application Insights
  // checkov:skip=CKV_AZURE_80: a Python app's authentication settings; no .NET Framework anywhere
  // checkov:skip=CKV_AZURE_88: Flex Consumption deploys the package from a blob container; the app uses no Azure Files share
  // checkov:skip=CKV_AZURE_222: as the app: Azure Monitor action groups call the alert webhook on the public endpoint
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: entraClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${entraClientId}'
            entraClientId
          ]
        }
      }
    }
  }
}

output id string = functionApp.id
output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
