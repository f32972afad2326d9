// The controller suite, with the operator authenticating as its own user (a client certificate).
import { defineControllerSuite } from './controller-suite.ts';
import { OPERATOR_USER, operatorKubeconfig } from './operator.ts';

defineControllerSuite({
  title: 'controller (as its own user)',
  kubeconfig: operatorKubeconfig,
  username: () => OPERATOR_USER,
});
