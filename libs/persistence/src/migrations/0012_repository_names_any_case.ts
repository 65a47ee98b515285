import { sql, type Kysely } from 'kysely';

// Forges take a repository's name in any case (GitHub's `Acme/App` is `acme/app`, and Gitea and
// Bitbucket keep names lower-cased), so Kiln tells repositories apart, and finds them, by the name
// lower-cased: one registration per repository whatever its spelling, and a webhook that spells
// it otherwise still finds it. Names are ASCII (the API refuses others), which `lower()` folds
// alike on SQLite and PostgreSQL.

export async function up(db: Kysely<unknown>): Promise<void> {
  const clashes = await sql<{ forge: string; names: string }>`
    SELECT forge, min(full_name) || ' and ' || max(full_name) AS names
    FROM repositories
    GROUP BY forge, lower(full_name)
    HAVING count(*) > 1
  `.execute(db);
  if (clashes.rows.length > 0) {
    const listed = clashes.rows.map((c) => `${c.forge} ${c.names}`).join('; ');
    throw new Error(
      `repositories registered twice under names that differ only in case (${listed}): ` +
        'they are one repository on the forge; remove all but one, then start again',
    );
  }
  await db.schema
    .createIndex('repositories_forge_lower_full_name_key')
    .on('repositories')
    .unique()
    .expression(sql`forge, lower(full_name)`)
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('repositories_forge_lower_full_name_key').execute();
}
