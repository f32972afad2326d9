// The controller as the other integration tests run it: as its own user (a client certificate in
// system:masters) with leader election off. One scenario here, since every scenario of the suite runs
// in chart-rbac.test.ts as the chart's ServiceAccount, with exactly the RBAC the chart grants (a
// subset of these permissions) and leader election on.
import { defineControllerSuite, SCENARIOS } from './controller-suite.ts';
import { OPERATOR_USER, operatorKubeconfig } from './operator.ts';

defineControllerSuite({
  title: 'controller (as its own user)',
  kubeconfig: operatorKubeconfig,
  username: () => OPERATOR_USER,
  scenarios: SCENARIOS.slice(0, 1),
});
