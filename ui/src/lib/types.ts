// Re-exports of the types generated from Rust (src/lib/bindings), plus a few
// names derived from them. Nothing here restates a Rust type by hand.
export type { Account } from './bindings/Account';
export type { AppInfo } from './bindings/AppInfo';
export type { ChoiceInput } from './bindings/ChoiceInput';
export type { Collection } from './bindings/Collection';
export type { CollectionInfo } from './bindings/CollectionInfo';
export type { CommandError } from './bindings/CommandError';
export type { Conflict } from './bindings/Conflict';
export type { ConflictKind } from './bindings/ConflictKind';
export type { ConnState } from './bindings/ConnState';
export type { ErrorBody } from './bindings/ErrorBody';
export type { ErrorKind } from './bindings/ErrorKind';
export type { ConnectionFailure } from './bindings/ConnectionFailure';
export type { EventName } from './bindings/EventName';
export type { EventPayloads } from './bindings/EventPayloads';
export type { Field } from './bindings/Field';
export type { FieldChoiceInput } from './bindings/FieldChoiceInput';
export type { FieldType } from './bindings/FieldType';
export type { Device } from './bindings/Device';
export type { LockReason } from './bindings/LockReason';
export type { Protection } from './bindings/Protection';
export type { Security } from './bindings/Security';
export type { FileRef } from './bindings/FileRef';
export type { LocalFile } from './bindings/LocalFile';
export type { FileProgress } from './bindings/FileProgress';
export type { BulkReport } from './bindings/BulkReport';
export type { BulkSkip } from './bindings/BulkSkip';
export type { ColumnMapping } from './bindings/ColumnMapping';
export type { ExportReport } from './bindings/ExportReport';
export type { FileFormat } from './bindings/FileFormat';
export type { ImportOptions } from './bindings/ImportOptions';
export type { ImportPreview } from './bindings/ImportPreview';
export type { ImportProgress } from './bindings/ImportProgress';
export type { ImportReport } from './bindings/ImportReport';
export type { MenuCommand } from './bindings/MenuCommand';
export type { RowProblem } from './bindings/RowProblem';
export type { ListQuery } from './bindings/ListQuery';
export type { LocalRecord } from './bindings/LocalRecord';
export type { LoginForm } from './bindings/LoginForm';
export type { Mutation } from './bindings/Mutation';
export type { OpenConflict } from './bindings/OpenConflict';
export type { OutboxEntry } from './bindings/OutboxEntry';
export type { QuitRequested } from './bindings/QuitRequested';
export type { RecordList } from './bindings/RecordList';
export type { RecordRef } from './bindings/RecordRef';
export type { RecordsChanged } from './bindings/RecordsChanged';
export type { RecordState } from './bindings/RecordState';
export type { ResolutionInput } from './bindings/ResolutionInput';
export type { ServerRecord } from './bindings/ServerRecord';
export type { Status } from './bindings/Status';
export type { TextPart } from './bindings/TextPart';
export type { MergeKind } from './bindings/MergeKind';

export type { JsonValue } from './bindings/serde_json/JsonValue';

import type { LocalRecord } from './bindings/LocalRecord';

/** A record's values by field name. */
export type Fields = LocalRecord['fields'];
