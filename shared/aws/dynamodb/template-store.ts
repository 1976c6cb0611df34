import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { StoredTemplate, TemplateStore } from '../../ports';
import { EntityTable } from './entity-table';
import { TEMPLATE_LIST_PK, TEMPLATE_SK, templatePk } from './keys';

export class DynamoTemplateStore extends EntityTable<StoredTemplate> implements TemplateStore {
  constructor(client: DynamoDBDocumentClient, tableName: string) {
    super(client, tableName, { type: 'template', pk: templatePk, sk: TEMPLATE_SK, listPk: TEMPLATE_LIST_PK }, (item) => {
      const template = item as unknown as StoredTemplate;
      return { ...template, usedBy: template.usedBy ?? {} };
    });
  }
}
