// Package format renders command output the way Docker's CLI does: aligned
// tables, one JSON object per line, and Go templates over named fields
// (--format '{{.ID}}', 'table {{.Repository}}\t{{.Tag}}', 'json').
//
// A [Table] holds the default row template and the column titles;
// [Table.Write] renders rows (values whose fields the templates name) in
// the form --format asks for: the default table, "table TEMPLATE", "json"
// (one object per line, or one array where docker compose prints one), or
// a bare template, with Docker's template functions ([Parse]). The helpers write the
// cells Docker writes its own way: the PORTS column ([Ports], ranges
// merged), the quoted, truncated command ([QuotedCommand]), SIZE ([Size]),
// docker compose's log prefix ([LogPrefix]), and top's process tables
// ([Processes], [ComposeTop]). Every listing goes through this package; the
// rows of docker ps and compose ps are built by the packages that know the
// containers.
package format
