/** One problem with a ModelDeployment, at a path like `spec.autoscaling.minReplicas`. */
export interface FieldError {
  field: string;
  message: string;
}

/** One line for a status condition message or an Event: "spec.a: message; spec.b: message." */
export function formatFieldErrors(errors: readonly FieldError[]): string {
  if (errors.length === 0) return '';
  return `${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}.`;
}
