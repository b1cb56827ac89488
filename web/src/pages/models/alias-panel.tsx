// A model's aliases and the form that moves one: deploying a new version and rolling back are both
// "point this alias at that version", confirmed with both version numbers named.
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, enc } from '../../lib/api';
import { href } from '../../lib/router';
import { ErrorBox } from '../../components/status';
import type { Actions } from './actions';
import { ALIAS_PATTERN, DEFAULT_ALIAS, type ModelWithVersions } from './model-data';

/** What the form starts from when a row's "Move…" or a version's "Point an alias here…" is pressed. */
export interface AliasDraft {
  /** absent: keep what the form has */
  readonly alias?: string;
  readonly version: number;
  /** bumped on every request, so asking twice for the same draft still focuses the form */
  readonly seq: number;
}

export interface AliasPanelProps {
  readonly model: ModelWithVersions;
  readonly admin: boolean;
  readonly actions: Actions;
  readonly draft: AliasDraft | null;
  /** fills the move form (a row's "Move…") */
  onEdit(alias: string, version: number): void;
}

export function AliasPanel({ model, admin, actions, draft, onEdit }: AliasPanelProps) {
  const aliases = Object.entries(model.aliases).sort(([a], [b]) => a.localeCompare(b));
  const hasDefault = model.aliases[DEFAULT_ALIAS] !== undefined;
  return (
    <section aria-labelledby="aliases-title">
      <h2 id="aliases-title">Aliases</h2>
      <p>
        Unversioned requests get <strong>v{model.aliases[DEFAULT_ALIAS] ?? model.latestVersion}</strong>
        {hasDefault ? <> through the <code>{DEFAULT_ALIAS}</code> alias.</> : <>, the latest version; a <code>{DEFAULT_ALIAS}</code> alias would pin them.</>}
      </p>
      {aliases.length === 0 ? (
        <p class="muted">This model has no aliases yet.</p>
      ) : (
        <div class="table-wrap">
          <table class="alias-table">
            <thead>
              <tr><th scope="col">Alias</th><th scope="col" class="num">Version</th><th scope="col" class="hide-narrow">Request as</th>{admin && <th scope="col"><span class="visually-hidden">Actions</span></th>}</tr>
            </thead>
            <tbody>
              {aliases.map(([alias, v]) => (
                <tr key={alias} data-alias={alias}>
                  <th scope="row">{alias}</th>
                  <td class="num" data-testid="alias-version"><a href={href('models', model.name, v)}>v{v}</a></td>
                  <td class="hide-narrow mono">{model.name}:{alias}</td>
                  {admin && (
                    <td class="row-actions">
                      <button type="button" class="secondary outline small" disabled={actions.busy !== null} aria-label={`Move alias ${alias}`}
                        onClick={() => onEdit(alias, v)}>Move…</button>
                      <button type="button" class="secondary outline small" disabled={actions.busy !== null} aria-label={`Remove alias ${alias}`}
                        onClick={() => actions.ask({
                          where: 'aliases', title: `Remove alias ${alias}?`, confirmLabel: `Remove ${alias}`, danger: true,
                          body: <p>Requests for <code>{model.name}:{alias}</code> will fail until the alias is set again.{alias === DEFAULT_ALIAS && <> Unversioned requests go to the latest version, v{model.latestVersion}.</>}</p>,
                          run: () => api(`/api/models/${enc(model.name)}/aliases/${enc(alias)}`, { method: 'DELETE' }),
                        })}>Remove</button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {admin && <MoveAliasForm model={model} actions={actions} draft={draft} />}
      <ErrorBox error={actions.error('aliases')} />
    </section>
  );
}

function MoveAliasForm({ model, actions, draft }: { model: ModelWithVersions; actions: Actions; draft: AliasDraft | null }) {
  const versions = model.versions.map((v) => v.version).sort((a, b) => b - a);
  const [alias, setAlias] = useState(DEFAULT_ALIAS);
  const [picked, setVersion] = useState(versions[0] ?? 1);
  // a deleted version leaves the select: fall back to the newest
  const version = versions.includes(picked) ? picked : versions[0] ?? picked;
  const [note, setNote] = useState<string>();
  const aliasInput = useRef<HTMLInputElement>(null);
  const versionSelect = useRef<HTMLSelectElement>(null);

  // applied in the same commit as the click's render, so what is typed or picked next is not overwritten
  useLayoutEffect(() => {
    if (!draft) return;
    if (draft.alias !== undefined) setAlias(draft.alias);
    setVersion(draft.version);
    setNote(undefined);
    const field = draft.alias !== undefined ? versionSelect.current : aliasInput.current;
    field?.focus();
    field?.scrollIntoView({ block: 'center' });
  }, [draft?.seq]);

  const submit = (e: Event) => {
    e.preventDefault();
    const name = alias.trim();
    const from = model.aliases[name];
    if (from === version) {
      setNote(`${name} already points at v${version}.`);
      return;
    }
    setNote(undefined);
    const older = from !== undefined && version < from;
    actions.ask({
      where: 'aliases',
      title: from === undefined ? `Create alias ${name} → v${version}?` : `Move ${name} from v${from} to v${version}?`,
      confirmLabel: from === undefined ? `Create ${name}` : older ? `Roll back ${name} to v${version}` : `Move ${name} to v${version}`,
      body: (
        <>
          <p>
            {from === undefined ? <>Requests for <code>{model.name}:{name}</code> will go to <strong>v{version}</strong>.</> : <>Requests for <code>{model.name}:{name}</code> go to <strong>v{from}</strong> now and will go to <strong>v{version}</strong>{older ? ' (an older version: a roll back)' : ''}.</>}
            {name === DEFAULT_ALIAS && ' Unversioned requests follow this alias too.'}
          </p>
          <p>Ferry loads v{version} first, so no request waits for it or fails during the switch.</p>
        </>
      ),
      run: () => api(`/api/models/${enc(model.name)}/aliases/${enc(name)}`, { method: 'PUT', body: { version } }),
    });
  };

  const listId = `aliases-of-${model.name}`;
  return (
    <form class="move-alias" onSubmit={submit} aria-label="Move an alias">
      <label>
        Alias
        <input ref={aliasInput} name="alias" list={listId} value={alias} required pattern={ALIAS_PATTERN} autocomplete="off"
          title="lowercase letters, digits, _ or -, starting with a letter"
          onInput={(e) => { setAlias(e.currentTarget.value); setNote(undefined); actions.clear('aliases'); }} />
        <datalist id={listId}>{Object.keys(model.aliases).map((a) => <option key={a} value={a} />)}</datalist>
      </label>
      <label>
        Version
        <select ref={versionSelect} name="version" value={version} onChange={(e) => { setVersion(Number(e.currentTarget.value)); setNote(undefined); }}>
          {versions.map((v) => <option key={v} value={v}>v{v}{v === model.latestVersion ? ' (latest)' : ''}</option>)}
        </select>
      </label>
      <button type="submit" disabled={actions.busy !== null} aria-busy={actions.busy === 'aliases'}>Move alias…</button>
      <p class="form-note" role="status">{note}</p>
    </form>
  );
}
