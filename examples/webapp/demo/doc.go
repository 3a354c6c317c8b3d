// Command demo is the one static binary behind the example stack's images
// (examples/webapp): called as web, api, migrate or kv (its first argument
// or the name it is run by), it is a small piece of a web application.
//
//   - kv: a key-value store over HTTP (GET and PUT /KEY), its data one file
//     per key under -dir (a named volume in the stack); kv -ping ADDR is
//     its healthcheck;
//   - migrate: a one-shot job that writes the schema version into kv;
//   - api: answers / with a greeting and a visit counter kept in kv;
//   - web: the front, proxying every request to the api by its service
//     name, which berth's DNS resolves.
package main
