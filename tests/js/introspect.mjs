// Loads morgue's schema from a running node the way GraphiQL, Apollo's tools and
// graphql-codegen do: graphql-js's standard introspection query with every option on, then
// buildClientSchema and validateSchema. Prints the names of the types it loaded, as a JSON
// array, then the schema as SDL on stderr; exits 1 with the reason.
// Usage: node introspect.mjs http://127.0.0.1:PORT/graphql
import {
  buildClientSchema,
  getIntrospectionQuery,
  printSchema,
  validateSchema,
} from 'graphql';

const url = process.argv[2];
const query = getIntrospectionQuery({
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
  oneOf: true,
});
const response = await fetch(url, {
  method: 'POST',
  headers: {
    'content-type': 'application/json',
    accept: 'application/graphql-response+json, application/json',
  },
  body: JSON.stringify({ query, operationName: 'IntrospectionQuery' }),
});
const body = await response.json();
if (!response.ok || body.errors) {
  console.error(`introspection refused (${response.status}): ${JSON.stringify(body.errors)}`);
  process.exit(1);
}
const schema = buildClientSchema(body.data);
const problems = validateSchema(schema);
if (problems.length > 0) {
  console.error(problems.map((p) => p.message).join('\n'));
  process.exit(1);
}
process.stdout.write(JSON.stringify(Object.keys(schema.getTypeMap())));
process.stderr.write(printSchema(schema));
