import { Omittable } from '@kiln/common';
import {
  REPOSITORY_ROLES,
  type ApiTokenInfo,
  type Membership,
  type RepositoryRole,
  type User,
} from '@kiln/persistence';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsString, Matches, MaxLength, MinLength } from 'class-validator';

const USERNAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export class LoginDto {
  @ApiProperty({ maxLength: 63, example: 'admin' })
  @IsString()
  @MaxLength(63)
  username!: string;

  @ApiProperty({ maxLength: 1024, format: 'password' })
  @IsString()
  @MaxLength(1024)
  password!: string;
}

export class CreateUserDto {
  @ApiProperty({ pattern: USERNAME.source, example: 'alice' })
  @Matches(USERNAME, {
    message: 'username must be 1-63 of a-z 0-9 . _ -, starting with a letter or digit',
  })
  username!: string;

  @ApiProperty({ minLength: 12, maxLength: 1024, format: 'password' })
  @IsString()
  @MinLength(12, { message: 'password must be at least 12 characters' })
  @MaxLength(1024)
  password!: string;

  @ApiPropertyOptional({ description: 'An administrator may do everything.', default: false })
  @Omittable()
  @IsBoolean()
  admin?: boolean;
}

export class UpdateUserDto {
  @ApiProperty({
    description: 'True: the user cannot sign in and their sessions and API tokens stop working.',
  })
  @IsBoolean()
  disabled!: boolean;
}

export class CreateTokenDto {
  @ApiProperty({ minLength: 1, maxLength: 100, example: 'laptop cli' })
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  name!: string;
}

export class SetRoleDto {
  @ApiProperty({ enum: [...REPOSITORY_ROLES], enumName: 'RepositoryRole', example: 'developer' })
  @IsIn(REPOSITORY_ROLES, { message: `role must be one of ${REPOSITORY_ROLES.join(', ')}` })
  role!: RepositoryRole;
}

export class UserResponse implements User {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'alice' })
  username!: string;

  @ApiProperty()
  isAdmin!: boolean;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;

  @ApiPropertyOptional({
    type: String,
    format: 'date-time',
    description: 'When an administrator disabled the user; absent while they may sign in.',
  })
  disabledAt?: Date;
}

export class SessionResponse {
  @ApiProperty({ type: UserResponse })
  user!: UserResponse;

  @ApiProperty({
    description: 'Send it as the `x-csrf-token` header with every write of this session.',
  })
  csrfToken!: string;
}

export class CurrentSessionResponse {
  @ApiProperty({ type: UserResponse })
  user!: UserResponse;

  @ApiPropertyOptional({
    description: 'For a cookie session: the `x-csrf-token` its writes need (absent for a token).',
  })
  csrfToken?: string;
}

export class ApiTokenResponse implements ApiTokenInfo {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ example: 'laptop cli' })
  name!: string;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: Date;

  @ApiPropertyOptional({ type: String, format: 'date-time' })
  lastUsedAt?: Date;
}

export class CreatedApiTokenResponse extends ApiTokenResponse {
  @ApiProperty({ description: 'The token itself: shown in this answer only.' })
  token!: string;
}

export class MembershipResponse implements Membership {
  @ApiProperty({ format: 'uuid' })
  repositoryId!: string;

  @ApiProperty({ format: 'uuid' })
  userId!: string;

  @ApiProperty({ example: 'alice' })
  username!: string;

  @ApiProperty({ enum: [...REPOSITORY_ROLES], enumName: 'RepositoryRole' })
  role!: RepositoryRole;
}
