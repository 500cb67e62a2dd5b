// Apollo Client's automatic persisted queries against a running node, as an app performs them:
// a hash-only request first, the registering request when the node does not know the hash,
// then hash-only requests. Runs one query twice with GET for hashed queries (Apollo's
// `useGETForHashedQueries`) or POST, and prints, as JSON, every request the link sent (method,
// whether it carried the query text) and the data of each answer; exits 1 with the reason.
// Usage: node apq.mjs http://127.0.0.1:PORT/graphql get|post
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { createHash } from 'node:crypto';

const [url, mode] = process.argv.slice(2);
const sent = [];
const recordingFetch = async (input, init) => {
  const target = new URL(typeof input === 'string' ? input : input.url);
  const method = (init && init.method) || 'GET';
  let body = {};
  if (method === 'POST') body = JSON.parse(init.body);
  else
    body = {
      query: target.searchParams.get('query') ?? undefined,
      extensions: JSON.parse(target.searchParams.get('extensions') ?? '{}'),
    };
  const response = await fetch(input, init);
  const copy = response.clone();
  sent.push({
    method,
    withQuery: typeof body.query === 'string',
    withHash: Boolean(body.extensions && body.extensions.persistedQuery),
    status: response.status,
    answer: await copy.json(),
  });
  return response;
};

const sha256 = (text) => createHash('sha256').update(text).digest('hex');
const link = new PersistedQueryLink({ sha256, useGETForHashedQueries: mode === 'get' }).concat(
  new HttpLink({ uri: url, fetch: recordingFetch }),
);
const client = new ApolloClient({ link, cache: new InMemoryCache() });
const query = gql`
  query Front($first: Int!) {
    articles(first: $first) {
      edges {
        node {
          slug
          headline
        }
      }
    }
  }
`;
try {
  const first = await client.query({ query, variables: { first: 3 }, fetchPolicy: 'network-only' });
  const second = await client.query({ query, variables: { first: 3 }, fetchPolicy: 'network-only' });
  console.log(JSON.stringify({ sent, first: first.data, second: second.data }));
} catch (e) {
  console.error(String(e && e.stack ? e.stack : e), JSON.stringify(sent));
  process.exit(1);
}
