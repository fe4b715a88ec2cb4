// Alert wiring: an action group whose webhook calls the app's /api/alerts with the Common Alert
// Schema, and an example availability alert on the primary's VMs that plans name in
// failover.alert_rules. The function key is read from the app at deployment (listKeys) and never
// written anywhere else; run `azd provision` again after rotating it (README).
@description('Name of the Function App that receives the alerts.')
param functionAppName string

@description('Name of the action group.')
@minLength(1)
@maxLength(260)
param actionGroupName string

@description('Short name of the action group (SMS and e-mail show it), at most 12 characters.')
@minLength(1)
@maxLength(12)
param actionGroupShortName string

@description('Tags of every resource vmdr deploys.')
param tags object

@description('Create the example availability alert rule on the primary.')
param createAvailabilityAlert bool

@description('Name of the availability alert rule: list it in a plan\'s failover.alert_rules.')
@minLength(1)
@maxLength(260)
param availabilityAlertName string

@description('Resource ids of the primary resource groups whose VMs the rule watches.')
param primaryResourceGroupIds array

@description('The primary region (a multi-resource metric alert watches VMs of one region).')
param primaryLocation string

resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: actionGroupShortName
    enabled: true
    webhookReceivers: [
      {
        name: 'vmdr-alerts'
        // The default function key of the app's host: every function-level route accepts it.
        serviceUri: 'https://${functionApp.properties.defaultHostName}/api/alerts?code=${listKeys('${functionApp.id}/host/default', '2024-04-01').functionKeys.default}'
        useCommonAlertSchema: true
        useAadAuth: false
      }
    ]
  }
}

// VM availability (VmAvailabilityMetric: 1 available, 0 not; "Monitoring data reference for
// Azure Virtual Machines" — the metric is in preview there) averaged below 1 for five minutes on
// any VM of the primary resource groups. A region outage fires it for every VM; vmdr takes the
// first delivery per alert and answers the rest "duplicate".
resource availability 'Microsoft.Insights/metricAlerts@2018-03-01' = if (createAvailabilityAlert) {
  name: availabilityAlertName
  location: 'global'
  tags: tags
  properties: {
    description: 'A VM of the primary region is not available: vmdr may start an unplanned failover (plans list this rule in failover.alert_rules).'
    severity: 0
    enabled: true
    scopes: primaryResourceGroupIds
    targetResourceType: 'Microsoft.Compute/virtualMachines'
    targetResourceRegion: primaryLocation
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.MultipleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'vm-unavailable'
          metricNamespace: 'Microsoft.Compute/virtualMachines'
          metricName: 'VmAvailabilityMetric'
          operator: 'LessThan'
          threshold: 1
          timeAggregation: 'Average'
        }
      ]
    }
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

output actionGroupId string = actionGroup.id
output availabilityAlertName string = createAvailabilityAlert ? availability.name : ''
